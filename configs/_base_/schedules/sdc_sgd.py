# Optimiser of SDC's pre-training (Sec. 4.2): SGD, initial lr 1e-2, weight decay 1e-4.
# The paper states neither the momentum nor the lr schedule: momentum 0.9 and a cosine
# decay over the whole run (set in each config with its max_epochs) are our choices.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-2, momentum=0.9, weight_decay=1e-4))

# Pre-training has only a train loop: no val_cfg (validation is off unless a config adds
# val_dataloader, val_evaluator and val_cfg). The dataset configs define the test loop
# (retrieval over their validation list) that tools/test.py runs.
