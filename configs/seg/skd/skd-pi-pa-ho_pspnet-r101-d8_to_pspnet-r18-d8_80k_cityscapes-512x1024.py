# Structured KD in full on Cityscapes, the paper's setup (PSPNet R-101 teacher,
# mmseg's released checkpoint; R-18 student): mmseg's own configs and data.
_base_ = ['mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py']
default_scope = 'kdtools'

teacher_config = 'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'
# the published checkpoint (the model zoo's metafile), downloaded once
# into the torch hub cache; offline, the error names the file to put there
teacher_ckpt = 'https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/pspnet_r101-d8_512x1024_80k_cityscapes/pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 512, 1024),
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
