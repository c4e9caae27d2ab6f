# Sourced by scripts/demo and scripts/test: find Python >= 3.11, create .venv if needed, install AniVault.
# Usage: ensure_venv EXTRAS   (e.g. ensure_venv "test" or ensure_venv "")
ensure_venv() {
  local extras="$1" py="" cand
  if [ -n "${PYTHON:-}" ]; then
    py="$PYTHON"
  else
    for cand in python3.13 python3.12 python3.11 python3 python; do
      if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        py="$cand"; break
      fi
    done
  fi
  if [ -z "$py" ]; then
    echo "error: AniVault needs Python 3.11 or newer; install it or set PYTHON=/path/to/python3.11" >&2
    exit 2
  fi
  if [ -x .venv/bin/python ]; then VENV_BIN=.venv/bin; elif [ -x .venv/Scripts/python.exe ]; then VENV_BIN=.venv/Scripts; else
    echo "creating virtualenv .venv with $("$py" --version)" >&2
    "$py" -m venv .venv
    if [ -x .venv/bin/python ]; then VENV_BIN=.venv/bin; else VENV_BIN=.venv/Scripts; fi
  fi
  local spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  # Re-install only when the packaging changed since the last install (fast reruns).
  local stamp=".venv/.anivault-installed-$extras" changed="" f
  for f in pyproject.toml; do
    if [ -f "$f" ] && [ "$f" -nt "$stamp" ]; then changed=1; fi
  done
  if [ ! -f "$stamp" ] || [ -n "$changed" ]; then
    echo "installing AniVault ($spec) into .venv" >&2
    "$VENV_BIN/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
    touch "$stamp"
  fi
  export PATH="$PWD/$VENV_BIN:$PATH"
}
