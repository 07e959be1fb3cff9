import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class PairWiseKDLoss(nn.Module):
    """Pair-wise distillation of structured knowledge distillation (Liu et
    al., CVPR 2019 / TPAMI 2020, Eq. 2):

        L_pa = 1 / (W' H')^2 * sum_{i, j} (a_ij^s - a_ij^t)^2,
        a_ij = f_i . f_j / (||f_i|| ||f_j||)

    over the W' x H' nodes of the feature maps, each node a max-pooled
    ``beta x beta`` patch (the paper's granularity), averaged over the batch.
    Student and teacher may differ in channels (the similarity graphs are
    compared); their node grids must match.

    Shapes: ``preds_S``: ``(N, C_s, H, W)``; ``preds_T``: ``(N, C_t, H', W')``.

    Args:
        node_size (int): beta, the pooled patch side in feature pixels
            (1: every pixel is a node).
        align (bool): when the two feature maps differ in size, pool the
            student's to the teacher's node grid (adaptive max pooling)
            instead of refusing.
        loss_weight (float): multiplies the loss (paper: 1).
    """

    def __init__(self, node_size: int = 2, align: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if node_size < 1:
            raise ValueError(f'node_size={node_size}; expected >= 1')
        self.node_size = node_size
        self.align = align
        self.loss_weight = loss_weight

    def _nodes(self, feat: Tensor) -> Tensor:
        if self.node_size > 1:
            feat = F.max_pool2d(feat, kernel_size=self.node_size,
                                stride=self.node_size, ceil_mode=True)
        return feat

    @staticmethod
    def similarity(nodes: Tensor) -> Tensor:
        """``(N, C, H', W')`` -> ``(N, H'W', H'W')`` cosine similarities."""
        flat = F.normalize(nodes.flatten(2), p=2, dim=1, eps=1e-8)
        return flat.transpose(1, 2) @ flat

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        nodes_t = self._nodes(preds_T.detach())
        nodes_s = self._nodes(preds_S)
        if nodes_s.shape[2:] != nodes_t.shape[2:]:
            if not self.align:
                raise ValueError(
                    f'student nodes {tuple(nodes_s.shape[2:])} and teacher '
                    f'nodes {tuple(nodes_t.shape[2:])} differ (features '
                    f'{tuple(preds_S.shape)} vs {tuple(preds_T.shape)})')
            nodes_s = F.adaptive_max_pool2d(nodes_s, nodes_t.shape[2:])
        a_s = self.similarity(nodes_s)
        a_t = self.similarity(nodes_t)
        n_nodes = a_s.shape[-1]
        loss = (a_s - a_t).pow(2).sum(dim=(1, 2)) / n_nodes ** 2
        return self.loss_weight * loss.mean()
