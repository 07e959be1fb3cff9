from typing import List, Tuple

from mmpretrain.models.heads import DeiTClsHead
from torch import Tensor

from kdtools.registry import MODELS


@MODELS.register_module()
class DeiTDistillClsHead(DeiTClsHead):
    """The two heads of a distilled ViT (Touvron et al., "Training
    data-efficient image transformers & distillation through attention",
    ICML 2021), trainable: mmpretrain's ``DeiTClsHead`` only runs inference.

    ``layers.head`` reads the class token and is trained with the labels
    (this head's ``loss``: cross-entropy on the class head alone);
    ``layers.head_dist`` reads the distillation token and is trained by the
    distiller's distillation term (record it with
    ``ModuleOutputs(source='head.layers.head_dist')``; the class head with
    ``'head.layers.head'``). At inference (``forward`` / ``predict``) the
    two are averaged, as DeiT does. The parameters are mmpretrain's
    ``DeiTClsHead``'s, so an exported student is a stock mmpretrain model
    (``export_type``).

    Shapes: ``feats[-1]`` is ``(cls_token, dist_token)``, each ``(N, C)``
    (``DistilledVisionTransformer`` with ``out_type='cls_token'``); the
    scores are ``(N, num_classes)``.
    """

    #: what ``tools/model_converters/export_student.py`` writes for this
    #: head: same parameters, inference only
    export_type = 'mmpretrain.DeiTClsHead'

    def forward(self, feats: Tuple[List[Tensor]]) -> Tensor:
        """The average of the class and distillation heads (inference)."""
        cls_token, dist_token = self.pre_logits(feats)
        return (self.layers.head(cls_token) +
                self.layers.head_dist(dist_token)) / 2

    def loss(self, feats: Tuple[List[Tensor]], data_samples,
             **kwargs) -> dict:
        """The label loss of the class head. The distillation head runs too
        (so a recorder sees its scores) but gets no gradient from here."""
        cls_token, dist_token = self.pre_logits(feats)
        cls_score = self.layers.head(cls_token)
        self.layers.head_dist(dist_token)
        return self._get_loss(cls_score, data_samples, **kwargs)
