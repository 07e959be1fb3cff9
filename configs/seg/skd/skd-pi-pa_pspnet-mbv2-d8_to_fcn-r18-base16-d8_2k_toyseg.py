# Structured KD: pixel-wise + pair-wise (the similarity graphs of the final
# feature maps, 2x2-pixel nodes) terms.
_base_ = ['./skd-pi_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py']

model = dict(
    student_recorders=dict(
        feat=dict(type='ModuleInputs', source='decode_head.conv_seg')),
    teacher_recorders=dict(
        feat=dict(type='ModuleInputs', source='decode_head.conv_seg')),
    distill_losses=dict(
        loss_pair=dict(
            type='PairWiseKDLoss', node_size=2, loss_weight=1.0,
            inputs=dict(preds_S='student.feat.0', preds_T='teacher.feat.0'))))
