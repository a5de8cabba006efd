"""``python -m i18n_tools``: bring the catalogues in step with the code, and say what is left.

``--check`` changes nothing and exits 1 when a catalogue is incomplete or stale.
"""

from __future__ import annotations

import sys

from i18n_tools.catalogue import LANGUAGES, check, update


def main(argv: list[str]) -> int:
    if "--check" in argv:
        errors = [line for language in LANGUAGES for line in check(language)]
        print("\n".join(errors) or "catalogues complete")
        return 1 if errors else 0
    todo = update()
    for line in todo:
        print(f"untranslated: {line}")
    print(f"{len(todo)} messages to translate" if todo else "catalogues complete")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
