"""A stand-in runner for the hook tests (core and study)."""
import types

from mmengine.logging import MMLogger


def fake_runner(model, epoch=0, loop=None):
    """The runner attributes the hooks use."""
    runner = types.SimpleNamespace(
        model=model, epoch=epoch, iter=epoch * 10, hooks=[],
        logger=MMLogger.get_instance('sdc_test_hooks'))
    runner.train_loop = loop if loop is not None else types.SimpleNamespace(max_epochs=10)
    runner._train_loop = runner.train_loop
    return runner


def weights_over_epochs(hook, runner, read_weight, num_epochs=4):
    """Run a warm-up hook from the start over ``num_epochs``; the weight of each epoch."""
    hook.before_run(runner)
    hook.before_train(runner)
    weights = []
    for epoch in range(num_epochs):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        weights.append(read_weight())
    return weights
