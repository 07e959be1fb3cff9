# Structured KD in full on NYUv2 (40 classes): PSPNet R-101 (trained with
# ../nyuv2/pspnet_r101-d8_4xb4-40k_nyuv2-40.py) teaches PSPNet R-18 with the
# pixel-wise (10), pair-wise (1) and holistic (0.1) terms.
_base_ = ['../nyuv2/pspnet_r18-d8_4xb4-40k_nyuv2-40.py']

teacher_config = '{{ fileDirname }}/../nyuv2/pspnet_r101-d8_4xb4-40k_nyuv2-40.py'  # noqa
teacher_ckpt = 'work_dirs/pspnet_r101-d8_4xb4-40k_nyuv2-40/iter_40000.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 480, 480),
    student_recorders=dict(
        logits=dict(type='MethodOutputs', source='decode_head.forward'),
        feat=dict(type='ModuleInputs', source='decode_head.conv_seg')),
    teacher_recorders=dict(
        logits=dict(type='MethodOutputs', source='decode_head.forward'),
        feat=dict(type='ModuleInputs', source='decode_head.conv_seg')),
    distill_losses=dict(
        loss_pixel=dict(
            type='PixelWiseKDLoss', loss_weight=10.0,
            inputs=dict(preds_S='student.logits', preds_T='teacher.logits',
                        gt='data.gt_sem_seg')),
        loss_pair=dict(
            type='PairWiseKDLoss', node_size=2, loss_weight=1.0,
            inputs=dict(preds_S='student.feat.0', preds_T='teacher.feat.0'))),
    discriminator=dict(type='ScoreMapDiscriminator'),
    adversarial=dict(loss_weight=0.1, gp_weight=10.0, d_steps=1))

optim_wrapper = dict(
    _delete_=True,
    constructor='DistillerOptimWrapperConstructor',
    student={{_base_.optim_wrapper}},
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.9))))
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel',
                         broadcast_buffers=False,
                         find_unused_parameters=False)
custom_hooks = [dict(type='TeacherEvalHook')]
