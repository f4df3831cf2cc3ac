#!/usr/bin/env python
"""Train from a config: ``python tools/train.py CONFIG [--work-dir D] [--resume [CKPT]] ...``

Same command line as MMAction2's tools/train.py; see ``sdc_mmaction.apis.train``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sdc_mmaction  # noqa: E402,F401  (compat fixes and registration before anything else)
from sdc_mmaction.apis.train import main  # noqa: E402
from sdc_mmaction.compat import leave_distributed_run  # noqa: E402

if __name__ == '__main__':
    main()
    leave_distributed_run()  # a no-op without a process group
