"""The daemon's images, in containerd's image store (moby's daemon/images, containerd flavour)."""

from corelib.daemon.images.service import DEFAULT_NAMESPACE, ImageService, Progress

__all__ = ["DEFAULT_NAMESPACE", "ImageService", "Progress"]
