"""Says exactly what is missing for the local stack, and how to install it, before anything starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

APT_HINT = (
    "On Debian/Ubuntu: add Google's Cloud SDK apt repository "
    "(https://cloud.google.com/sdk/docs/install#deb), then\n"
    "  sudo apt-get install google-cloud-cli google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator openjdk-17-jre-headless"
)


def sdk_root() -> Path | None:
    gcloud = shutil.which("gcloud")
    if gcloud:
        try:
            out = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"], capture_output=True, text=True, timeout=60, check=False
            ).stdout.strip()
            if out:
                return Path(out)
        except (OSError, subprocess.TimeoutExpired):
            pass
    for candidate in (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"), Path.home() / "google-cloud-sdk"):
        if (candidate / "platform").is_dir():
            return candidate
    return None


def missing() -> list[str]:
    problems = []
    if sys.version_info < (3, 11):
        problems.append(f"Python 3.11 or newer (this is {sys.version.split()[0]})")
    java = shutil.which("java")
    if not java:
        problems.append("Java 17 or newer: sudo apt-get install openjdk-17-jre-headless")
    root = sdk_root()
    if root is None:
        problems.append("the Google Cloud SDK (gcloud). " + APT_HINT)
        return problems
    firestore = root / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
    pubsub = list((root / "platform" / "pubsub-emulator" / "lib").glob("cloud-pubsub-emulator-*.jar"))
    if not firestore.exists():
        problems.append(f"the Firestore emulator (no {firestore}): sudo apt-get install google-cloud-cli-firestore-emulator")
    if not pubsub:
        problems.append("the Pub/Sub emulator: sudo apt-get install google-cloud-cli-pubsub-emulator")
    return problems


def main() -> int:
    problems = missing()
    if problems:
        print("The local stack needs:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
