"""Keep the Sinkhorn score queue of the concept alignment head across epochs and resumes."""
from typing import List, Optional

from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook

from mmaction.registry import HOOKS
from .head_weight_warmup import get_head

#: key of the queue states in a checkpoint
CHECKPOINT_KEY = 'concept_queue'


@HOOKS.register_module()
class ConceptQueueHook(Hook):
    """Drive and persist ``ConceptAlignHead``'s score queue (SwAV-style).

    The head owns the queue (``queue_length``, ``queue_start_epoch``; see its docstring);
    this hook
    - tells the head the epoch (``set_epoch``) in ``before_train`` and every
      ``before_train_epoch``, so the queue starts at ``queue_start_epoch``, also after a
      resume;
    - saves every rank's queue (``queue_state()``) into the checkpoint under
      ``'concept_queue'`` as ``dict(world_size, states=[rank 0, rank 1, ...])``;
    - restores each rank's own queue (``load_queue_state``) when a checkpoint is loaded
      (``--resume`` or ``load_from``).

    Why the checkpoint and not ``queue{rank}.pth`` files in the work dir (what SwAV and
    mmpretrain's ``SwAVHook`` do): the queue then belongs to the exact training state it
    was saved with, survives copying or renaming the checkpoint, and a fresh run in an old
    work dir cannot pick up a stale queue. Checkpoints are written by rank 0 only
    (``before_save_checkpoint`` runs there alone), so the hook gathers all ranks' queues
    (a collective, on every rank) in ``after_train_epoch`` and, when the
    ``CheckpointHook`` saves by iterations, in ``after_train_iter`` of the iterations that
    save; its NORMAL priority runs it before the ``CheckpointHook`` (VERY_LOW).

    Resuming with a different number of processes gives rank ``r`` the saved queue of rank
    ``r % saved_world_size`` (with a warning). A checkpoint without queue states (saved
    before this hook existed, or without it) leaves the queue empty; it refills within
    ``queue_length / batch_size`` iterations.

    Args:
        head_name (str): attribute (or dotted path) of the model holding the alignment
            head. Defaults to ``'align_head'``.
    """

    priority = 'NORMAL'

    def __init__(self, head_name: str = 'align_head') -> None:
        self.head_name = head_name
        self._gathered: Optional[List[dict]] = None
        self._gathered_at_iter: Optional[int] = None

    def _head(self, runner):
        head = get_head(runner, self.head_name, type(self).__name__)
        for method in ('set_epoch', 'queue_state', 'load_queue_state'):
            if not callable(getattr(head, method, None)):
                raise AttributeError(f'ConceptQueueHook: {self.head_name} '
                                     f'({type(head).__name__}) has no {method}()')
        return head

    # ------------------------------------------------------------------ epoch
    def before_run(self, runner) -> None:
        self._head(runner)  # fail early on a model without a queue API

    def before_train(self, runner) -> None:
        self._head(runner).set_epoch(runner.epoch)

    def before_train_epoch(self, runner) -> None:
        self._head(runner).set_epoch(runner.epoch)

    # ------------------------------------------------------------------ saving
    def _gather(self, runner) -> None:
        """Collect every rank's queue state (collective: all ranks must call it)."""
        state = self._head(runner).queue_state()
        _, world_size = get_dist_info()
        self._gathered = all_gather_object(state) if world_size > 1 else [state]
        self._gathered_at_iter = runner.iter

    def _checkpoint_due_after_iter(self, runner) -> bool:
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                if hook.every_n_train_iters(runner, hook.interval, hook.save_begin) or (
                        hook.save_last and hook.is_last_train_iter(runner)):
                    return True
        return False

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if get_dist_info()[1] > 1 and self._checkpoint_due_after_iter(runner):
            self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        if get_dist_info()[1] > 1:
            self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        _, world_size = get_dist_info()
        if world_size == 1:
            states = [self._head(runner).queue_state()]
        else:
            if self._gathered is None:
                runner.logger.warning('ConceptQueueHook: no gathered queue states yet; '
                                      'the checkpoint holds no score queue')
                return
            if self._gathered_at_iter != runner.iter:
                runner.logger.warning(
                    f'ConceptQueueHook: saving the queues gathered at iteration '
                    f'{self._gathered_at_iter} into the checkpoint of iteration '
                    f'{runner.iter}')
            states = self._gathered
        checkpoint[CHECKPOINT_KEY] = dict(world_size=len(states), states=states)

    # ------------------------------------------------------------------ loading
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        head = self._head(runner)
        saved = checkpoint.get(CHECKPOINT_KEY, None)
        if saved is None:
            runner.logger.info('ConceptQueueHook: the checkpoint has no score queue; the '
                               'queue starts empty')
            if callable(getattr(head, 'reset_queue', None)):
                head.reset_queue()
            return
        rank, world_size = get_dist_info()
        states = saved['states']
        if len(states) != world_size:
            runner.logger.warning(
                f'ConceptQueueHook: the checkpoint holds the queues of {len(states)} '
                f'processes, this run has {world_size}; rank {rank} takes the queue of '
                f'saved rank {rank % len(states)}')
        try:
            head.load_queue_state(states[rank % len(states)])
        except ValueError as err:
            raise ValueError(f'ConceptQueueHook: the score queue saved in the checkpoint '
                             f'does not fit {self.head_name}: {err}') from err
        epoch = checkpoint.get('meta', {}).get('epoch', '?')
        runner.logger.info(f'ConceptQueueHook: restored the score queue from the checkpoint '
                           f"of epoch {epoch} ({states[rank % len(states)]['filled']} rows "
                           'filled)')
