#!/bin/sh
# Create the project's virtual environment. Debian splits `venv` into the python3-venv package;
# when it is missing, virtualenv is used if present, and otherwise the error says what to install.
set -eu
python="$1"
venv="$2"
if "$python" -m venv "$venv" 2>/dev/null; then
  exit 0
fi
rm -rf "$venv"
if "$python" -m virtualenv --quiet "$venv" 2>/dev/null; then
  exit 0
fi
echo "Could not create $venv: install Debian's python3-venv package (apt-get install python3-venv) and run make again." >&2
exit 1
