"""An epoch-based training loop that resumes correctly from a mid-epoch checkpoint."""
from mmengine.runner import EpochBasedTrainLoop

from mmaction.registry import LOOPS


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that skips the batches a resumed checkpoint already trained.

    Long epochs call for iteration checkpoints
    (``default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
    interval=N)``), but mmengine 0.10.7's ``EpochBasedTrainLoop`` restarts a resumed epoch
    from its first batch: resuming from ``iter_N.pth`` taken in the middle of an epoch
    trains that epoch's first batches twice, runs ``N mod len(dataloader)`` iterations past
    ``max_iters`` (so an iteration-based schedule overshoots), and, because the
    ``save_last`` checkpoint is taken at ``max_iters``, leaves the last iterations out of
    every checkpoint.

    This loop works out how many batches of the current epoch were trained
    (``iter - epoch * len(dataloader)``) and skips that many before training. The skipped
    batches are still drawn from the dataloader (their videos are decoded, not trained on),
    so the sampler order and the data workers' random streams are those of the
    uninterrupted run; the cost is at most one epoch of data loading, once per resume.
    Otherwise identical to ``EpochBasedTrainLoop`` (same arguments).
    """

    def batches_done_in_epoch(self) -> int:
        """Batches of the current epoch that were trained before the last resume."""
        return max(0, self._iter - self._epoch * len(self.dataloader))

    def run_epoch(self) -> None:
        done = self.batches_done_in_epoch()
        if done:
            self.runner.logger.info(
                f'{type(self).__name__}: resuming inside epoch {self._epoch + 1} after '
                f'{done} of its {len(self.dataloader)} batches; skipping those (loaded, not '
                'trained)')
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        if done < len(self.dataloader):
            for idx, data_batch in enumerate(self.dataloader):
                if idx < done:
                    continue
                self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
