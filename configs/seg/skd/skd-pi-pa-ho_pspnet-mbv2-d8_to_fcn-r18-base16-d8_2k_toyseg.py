# Structured KD in full: pixel-wise + pair-wise + holistic. A Wasserstein
# critic (gradient penalty) scores (image, score map) pairs; it has its own
# optimizer and is updated after every student update (d_steps); the
# student's adversarial term has weight 0.1 (the paper's 10 / 1 / 0.1).
_base_ = ['./skd-pi-pa_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py']

model = dict(
    discriminator=dict(type='ScoreMapDiscriminator', channels=(32, 64, 128)),
    adversarial=dict(student='student.logits', teacher='teacher.logits',
                     loss_weight=0.1, gp_weight=10.0, d_steps=1))

optim_wrapper = dict(
    _delete_=True,
    constructor='DistillerOptimWrapperConstructor',
    student={{_base_.optim_wrapper}},
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.9))))

# several processes: each trained part in its own DDP wrapper
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel',
                         broadcast_buffers=False,
                         find_unused_parameters=False)
