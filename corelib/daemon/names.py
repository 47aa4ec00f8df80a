"""Container IDs and names (moby's daemon/names.go, pkg/stringid, pkg/namesgenerator): a random
64-hex ID whose short form is never all digits, and a unique name, given or generated like
`focused_curie`."""

from __future__ import annotations

import re
import secrets

from corelib import errdefs

VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
VALID_NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"

_ADJECTIVES = (
    "admiring", "affectionate", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring", "brave",
    "busy", "charming", "clever", "compassionate", "competent", "condescending", "confident", "cool", "cranky",
    "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant",
    "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny",
    "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry",
    "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
    "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic",
    "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical",
    "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
    "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
    "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
)
_SURNAMES = (
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage",
    "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "black", "blackwell", "bohr",
    "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "burnell", "cannon", "carson", "cartwright",
    "cerf", "chandrasekhar", "chaplygin", "chatelet", "chatterjee", "chebyshev", "clarke", "cohen", "colden",
    "cori", "cray", "curie", "darwin", "davinci", "dewdney", "dhawan", "diffie", "dijkstra", "dirac", "driscoll",
    "dubinsky", "easley", "edison", "einstein", "elbakyan", "elgamal", "elion", "ellis", "engelbart", "euclid",
    "euler", "faraday", "feistel", "fermat", "fermi", "feynman", "franklin", "gagarin", "galileo", "galois",
    "ganguly", "gates", "gauss", "germain", "goldberg", "goldstine", "goldwasser", "golick", "goodall", "gould",
    "greider", "grothendieck", "haibt", "hamilton", "haslett", "hawking", "heisenberg", "hellman", "hermann",
    "herschel", "hertz", "heyrovsky", "hodgkin", "hofstadter", "hoover", "hopper", "hugle", "hypatia", "jackson",
    "jang", "jennings", "jepsen", "johnson", "joliot", "jones", "kalam", "kapitsa", "kare", "keldysh", "keller",
    "kepler", "khayyam", "khorana", "kilby", "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport",
    "leakey", "leavitt", "lederberg", "lehmann", "lewin", "lichterman", "liskov", "lovelace", "lumiere", "mahavira",
    "margulis", "matsumoto", "maxwell", "mayer", "mccarthy", "mcclintock", "mclaren", "mclean", "mcnulty", "meitner",
    "mendel", "mendeleev", "meninsky", "merkle", "mestorf", "mirzakhani", "montalcini", "moore", "morse", "moser",
    "murdock", "napier", "nash", "neumann", "newton", "nightingale", "nobel", "noether", "northcutt", "noyce",
    "panini", "pare", "pascal", "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "proskuriakova",
    "ptolemy", "raman", "ramanujan", "rhodes", "ride", "ritchie", "robinson", "roentgen", "rosalind", "rubin",
    "saha", "sammet", "sanderson", "satoshi", "shamir", "shannon", "shaw", "shirley", "shockley", "shtern",
    "sinoussi", "snyder", "solomon", "spence", "stonebraker", "sutherland", "swanson", "swartz", "swirles",
    "taussig", "tesla", "tharp", "thompson", "torvalds", "tu", "turing", "varahamihira", "vaughan", "villani",
    "visvesvaraya", "volhard", "wescoff", "wilbur", "wiles", "williams", "williamson", "wilson", "wing", "wozniak",
    "wright", "wu", "yalow", "yonath", "zhukovsky",
)


def generate_id() -> str:
    """A random 64-hex ID; its 12-character short form is never all digits (it would read as a number)."""
    while True:
        candidate = secrets.token_hex(32)
        if not candidate[:12].isdigit():
            return candidate


def random_name(retry: int = 0) -> str:
    name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_SURNAMES)}"
    if name == "boring_wozniak":  # Steve Wozniak is not boring (a tradition kept from Docker)
        return random_name(retry)
    return f"{name}{secrets.randbelow(10)}" if retry else name


def validate_name(name: str) -> str:
    """'/name' for a valid name; InvalidArgument in Docker's words otherwise."""
    if not VALID_NAME.match(name):
        raise errdefs.InvalidArgument(f"Invalid container name ({name}), only {VALID_NAME_CHARS} are allowed")
    return name if name.startswith("/") else "/" + name


def name_conflict(name: str, owner_id: str) -> errdefs.Conflict:
    return errdefs.Conflict(f'Conflict. The container name "{name}" is already in use by container "{owner_id}". '
                            "You have to remove (or rename) that container to be able to reuse that name.")


class NameRegistrar:
    """Names -> container IDs (moby's registrar); names keep their leading slash."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def reserve(self, name: str, container_id: str) -> None:
        owner = self._names.get(name)
        if owner is not None and owner != container_id:
            raise name_conflict(name, owner)
        self._names[name] = container_id

    def release(self, name: str) -> None:
        self._names.pop(name, None)

    def get(self, name: str) -> str | None:
        return self._names.get(name if name.startswith("/") else "/" + name)

    def generate(self, container_id: str) -> str:
        for retry in range(12):
            name = "/" + random_name(retry)
            if name not in self._names:
                self.reserve(name, container_id)
                return name
        name = "/" + container_id
        self.reserve(name, container_id)
        return name
