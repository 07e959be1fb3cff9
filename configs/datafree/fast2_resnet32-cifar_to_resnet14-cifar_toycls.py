# The Fast-Datafree baseline (Fang et al., AAAI 2022; "Fast-2": 2 inner
# generator steps per round) with the same parts as the SSD-KD config
# beside it: a memory bank that keeps every synthetic image and is sampled
# uniformly (no priorities, no importance weights), the plain task term
# (no phi: gamma=0, kappa=0), synthesis spread over the whole run after 20
# of Fast's 220 epochs of warm-up, and Fast's default budget relation:
# 10x the SSD-KD config's synthetic images (50 rounds of 64: its synthesis
# alone takes ~2.5 minutes on one core).
_base_ = ['./ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py']

model = dict(
    budget=3200,
    buffer=dict(_delete_=True, type='MemoryBank', dtype='uint8'),
    synthesis=dict(
        batch_size=64, rounds=None,  # 50 rounds of 64, every image kept
        warmup_ratio=20 / 220, span=1.0,
        task=dict(type='ModulatedTaskLoss', gamma=0.0, kappa=0.0,
                  loss_weight=0.5)))
