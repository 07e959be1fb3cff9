# Hinton et al. (2015) soft targets for mmpretrain classifiers: both models'
# class scores (`head.forward`) and the KL at temperature 4. A config lists
# this after its student config and wires these into its Distiller.
kd_recorders = dict(logits=dict(type='MethodOutputs', source='head.forward'))
kd_losses = dict(
    loss_kd=dict(
        type='KDLoss', temperature=4.0, loss_weight=1.0,
        inputs=dict(preds_S='student.logits', preds_T='teacher.logits')))
