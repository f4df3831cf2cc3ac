#!/usr/bin/env python
"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--dump F.pkl] ...``

Same command line as MMAction2's tools/test.py; see ``sdc_mmaction.apis.test``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import sdc_mmaction  # noqa: E402,F401  (compat fixes and registration before anything else)
from sdc_mmaction.apis.test import main  # noqa: E402
from sdc_mmaction.compat import leave_distributed_run  # noqa: E402

if __name__ == '__main__':
    main()
    leave_distributed_run()  # a no-op without a process group
