"""What the player loads: run.py's modules keep scikit-learn and SciPy out of its process (and the
loudness measuring's soundfile and pyloudnorm, which load only in its child).

The learning (emusify.reading.relearn) runs in a child process for each update; importing it in
the player cost about 70 MB of resident memory for the whole run (docs/results/runner.md).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PLAYER_IMPORTS = textwrap.dedent("""
    import sys
    import emusify.cli.run, emusify.desk.core, emusify.desk.feedback, emusify.desk.frontends
    import emusify.reading.learner, emusify.reading.model, emusify.reading.predictor
    import emusify.sensing.calibration, emusify.sensing.shotcheck, emusify.sensing.passive
    import emusify.music.player, emusify.music.library, emusify.storage.journal
    import emusify.music.loudness, emusify.music.measure
    print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "scipy", "soundfile",
                                                                     "pyloudnorm"})))
""")


def test_the_player_never_imports_scikit_learn_or_scipy():
    done = subprocess.run([sys.executable, "-c", PLAYER_IMPORTS], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == []


def test_the_learning_module_does():
    code = "import sys, emusify.reading.relearn; print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"  # so the test above would see it if the player imported it
