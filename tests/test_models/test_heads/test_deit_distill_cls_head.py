"""DeiTDistillClsHead in the distiller: the class head gets the label
gradient, the distillation head the distillation gradient, both teachers
reach the loss, and inference averages the two heads."""
import torch

from _helpers.cls import _runner


def test_deit_heads_gradients_and_inference_average(toy_data, teacher_ckpts,
                                                    tmp_path):
    _, cfg, runner = _runner('deit-hard-2', toy_data, teacher_ckpts,
                             tmp_path)
    model = runner.model
    head = model.student.head
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, True)
    model.train()

    def grads(alpha):
        model.distill_losses['loss_deit'].alpha = alpha
        model.zero_grad()
        losses = model.loss(data['inputs'], data['data_samples'])
        # the student's own loss is off: only the DeiT term trains it
        assert set(losses) == {'distill.loss_deit'} or all(
            'loss' not in k or k == 'distill.loss_deit' for k in losses)
        losses['distill.loss_deit'].backward()
        return (head.layers.head.weight.grad,
                head.layers.head_dist.weight.grad)

    cls_g, dist_g = grads(1.0)  # distillation only
    assert dist_g.abs().sum() > 0
    assert cls_g is None or not cls_g.abs().sum()
    cls_g, dist_g = grads(0.0)  # labels only
    assert cls_g.abs().sum() > 0
    assert dist_g is None or not dist_g.abs().sum()
    # both teachers reached the loss, each with its own logits
    recorded = [m['logits'].get() for m in model.teacher_recorders.values()]
    assert len(recorded) == 2 and not torch.equal(*recorded)
    # inference: the mean of the two heads
    model.eval()
    with torch.no_grad():
        feats = model.student.extract_feat(data['inputs'])
        cls_token, dist_token = feats[-1]
        expected = (head.layers.head(cls_token) +
                    head.layers.head_dist(dist_token)) / 2
        out = model(data['inputs'], mode='tensor')
    assert torch.allclose(out, expected, atol=1e-6)
