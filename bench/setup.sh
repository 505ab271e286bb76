#!/bin/sh
# Set-up for `npm run bench`'s PyTorch columns (Debian 12): PyTorch from Debian, with OpenBLAS
# behind its BLAS. Debian's python3-torch calls whatever libblas.so.3 the system provides; with
# libopenblas0-pthread installed that is OpenBLAS (update-alternatives picks it), otherwise the
# slow reference BLAS. The bench prints the BLAS it found loaded in its notes.
#
#   sudo sh bench/setup.sh
set -e
apt-get update
apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
/usr/bin/python3 -c "import torch; print('torch', torch.__version__)"
