"""The generated _pb2 modules, loaded on protobuf's C (upb) classes alone, for the shim's server.

A generated module builds its classes through protobuf's pure-Python machinery: descriptor_pool,
builder, python_message, text_format, well_known_types with datetime and calendar... about 5 MB
of interpreter memory in every shim, for classes upb makes by itself. install() puts small
stand-ins for those modules in sys.modules first, so the same generated code makes the same upb
classes (same bytes on the wire) from the same serialized descriptors, without them. The price:
Any, Timestamp and friends lack their helper methods (Pack, FromDatetime...), which the shim
does not use, and str() of a message would load text_format. Only for processes that import no
other protobuf code; install() does nothing where that machinery is already loaded.
"""

from __future__ import annotations

import sys
import types

STAND_INS = ("google.protobuf.descriptor", "google.protobuf.descriptor_pool", "google.protobuf.runtime_version",
             "google.protobuf.symbol_database", "google.protobuf.internal.builder",
             "google.protobuf.internal.well_known_types")


def install() -> bool:
    """True if the stand-ins are in place (the upb backend is there and nothing loaded the real ones)."""
    if any(name in sys.modules for name in STAND_INS):
        return False
    try:
        from google._upb import _message
    except ImportError:
        return False
    from google.protobuf import message
    from google.protobuf.internal import enum_type_wrapper

    def build_top_descriptors_and_messages(file_descriptor, module_name: str, module: dict) -> None:
        for name, enum in file_descriptor.enum_types_by_name.items():
            module[name] = enum_type_wrapper.EnumTypeWrapper(enum)
            for value in enum.values:
                module[value.name] = value.number
        for name, descriptor in file_descriptor.message_types_by_name.items():
            module[name] = message_class(descriptor, module_name, "")

    def message_class(descriptor, module_name: str, prefix: str) -> type:
        namespace = {name: message_class(nested, module_name, f"{prefix}{descriptor.name}.")
                     for name, nested in descriptor.nested_types_by_name.items()}
        namespace.update(DESCRIPTOR=descriptor, __module__=module_name, __qualname__=prefix + descriptor.name)
        return _message.MessageMeta(descriptor.name, (message.Message,), namespace)

    stand_ins = {
        "google.protobuf.descriptor": {"_USE_C_DESCRIPTORS": True},
        "google.protobuf.descriptor_pool": {"Default": lambda: _message.default_pool},
        "google.protobuf.runtime_version": {"Domain": types.SimpleNamespace(PUBLIC=0),
                                            "ValidateProtobufRuntimeVersion": lambda *args: None},
        "google.protobuf.symbol_database": {"Default": lambda: None},
        "google.protobuf.internal.builder": {
            "BuildMessageAndEnumDescriptors": lambda file_descriptor, module: None,  # only for the Python backend
            "BuildTopDescriptorsAndMessages": build_top_descriptors_and_messages},
        "google.protobuf.internal.well_known_types": {"WKTBASES": {}},  # no helper mixins for Any, Timestamp...
    }
    for name, attributes in stand_ins.items():
        module = types.ModuleType(name, "stand-in installed by corelib.shim.leanproto")
        module.__dict__.update(attributes)
        sys.modules[name] = module
    return True
