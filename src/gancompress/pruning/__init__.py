"""Pruning engine: granularity x criterion x schedule x scope, masks during training."""
from gancompress.pruning.config import LAYER_KINDS, PruneConfig, criterion_choices  # noqa: F401
from gancompress.pruning.criteria import CRITERIA  # noqa: F401
from gancompress.pruning.granularity import GRANULARITIES, layer_kind, nm_keep  # noqa: F401
from gancompress.pruning.pruner import Pruner, count_sparsity, output_layers, select_layers  # noqa: F401
from gancompress.pruning.schedules import SCHEDULES, sparsity_at  # noqa: F401
