"""Published checksums of the known dataset files, and their verification.

A file that does not match is named with what it is instead, when that is known (the
MNIST file given for Fashion-MNIST, say), so a swapped or corrupted download is caught
before any training. Custom data (a subset, another dataset in the same format) skips the
check explicitly: ``verify=False`` in the readers, ``--no-verify`` on the command line.

Values: the MD5s of the MNIST and Fashion-MNIST ``.gz`` files are the ones their pages
publish (the same as torchvision's and TFDS's); their SHA-256s, the MD5s of the
decompressed files (for raw IDX files) and the N-MNIST archive's SHA-256 were computed from
files whose published MD5s match.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from spikewave._validation import DataError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digests:
    """What a known file's content hashes to: compressed (``.gz``) and decompressed."""

    gz_md5: str | None = None
    gz_sha256: str | None = None
    raw_md5: str | None = None


KNOWN: dict[str, dict[str, Digests]] = {
    "mnist": {
        "train-images-idx3-ubyte": Digests(
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": Digests(
            "d53e105ee54ea40749a09fcbcd1e9432",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": Digests(
            "9fb629c4189551a2d022fa330f9573f3",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": Digests(
            "ec29112dd5afa0611ce80d1b7f02629c",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "27ae3e4e09519cfbb04c329615203637"),
    },
    "fashion": {
        "train-images-idx3-ubyte": Digests(
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": Digests(
            "25c81989df183df01b3e8a0aad5dffbe",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": Digests(
            "bef4ecab320f06d8554ea6380940ec79",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": Digests(
            "bb300cfdad3c16e7a12a480ee83cd310",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "15d484375f8d13e6eb1aabb0c3f46965"),
    },
    "nmnist": {
        "nmnist_small_slayer.tar.gz": Digests(
            "0f05dfa41e0b5bff26b79315f737ec0e",
            "4622e3e60499341391c8ea1764556e49d242065821f0c93136f9c4f223b8d88c"),
    },
}

NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST", "nmnist": "N-MNIST (SLAYER's 1,100)"}


def file_digests(path: str | os.PathLike[str]) -> tuple[bool, str, str]:
    """``(is_gzip, md5, sha256)`` of a file's bytes, read in pieces."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        first = fh.read(2)
        md5.update(first)
        sha.update(first)
        while chunk := fh.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return first == b"\x1f\x8b", md5.hexdigest(), sha.hexdigest()


def _matches(d: Digests, gz: bool, md5: str, sha: str) -> bool:
    if gz:
        return md5 == d.gz_md5 or sha == d.gz_sha256
    return md5 == d.raw_md5


def identify(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """``(dataset, file name)`` of a known file with this content, else None."""
    gz, md5, sha = file_digests(path)
    for dataset, files in KNOWN.items():
        for name, d in files.items():
            if _matches(d, gz, md5, sha):
                return dataset, name
    return None


def verify(path: str | os.PathLike[str], dataset: str, name: str) -> None:
    """Check that ``path`` holds the published ``dataset`` file ``name``.

    Raises :class:`DataError` naming the file, the expected and the actual digest, and what
    the file is instead when it is another known file.
    """
    p = Path(path)
    expected = KNOWN[dataset][name]
    try:
        gz, md5, sha = file_digests(p)
    except OSError as exc:
        raise DataError(f"{p}: cannot read it to verify its checksum: "
                        f"{exc.strerror or exc}") from None
    if _matches(expected, gz, md5, sha):
        return
    want = expected.gz_sha256 if gz else expected.raw_md5
    got = sha if gz else md5
    kind = "SHA-256" if gz else "MD5 (decompressed file)"
    other = next(((ds, n) for ds, files in KNOWN.items() for n, d in files.items()
                  if _matches(d, gz, md5, sha)), None)
    if other is not None:
        what = f"it is {NAMES[other[0]]}'s {other[1]}, not {NAMES[dataset]}'s {name}"
    else:
        what = "the file is corrupt, truncated or another dataset"
    raise DataError(f"{p}: {kind} {got} is not the published {want} of {NAMES[dataset]}'s "
                    f"{name}: {what}. For custom data, skip the check with verify=False "
                    "(--no-verify)")
