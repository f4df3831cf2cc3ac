# The GPU check of the study (../../README.md, "Open questions"): label-target controls
# with and without L_loc, the paper's objective over 10x the quick start's schedule at two
# widths and with sigma the MLP, and the moving-average teacher with and without L_fid on
# q_v^d; 19 runs, as one sweep of projects/cpu_scale_study/tools/sweep.py. On a GPU machine:
#   bash projects/cpu_scale_study/tools/device/run_sweep.sh THIS_FILE 300 19
preset = 'default'
data_seed = 0
# a loader process per run decodes the small generated videos faster than the GPU steps
cfg_options = ['train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=True']
summary = dict(key='aln_dynamic', threshold=1.2, window=48)

label_config = 'projects/cpu_scale_study/configs/sdc-label-targets_r2plus1d-tiny_synthetic.py'
sdc_config = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'
mlp_config = 'projects/cpu_scale_study/configs/sdc-mlp-sigma_r2plus1d-tiny_synthetic.py'
teacher_config = 'projects/cpu_scale_study/configs/sdc-target-network_r2plus1d-tiny_synthetic.py'
# L_fid and L_div off in both label rows; the control also holds L_loc off for the run
labels_only = ['model.align_head.fidelity_weight=0', 'model.align_head.diversity_weight=0',
               'custom_hooks.0.warmup_epochs=1000']
labels_loc = ['model.align_head.fidelity_weight=0', 'model.align_head.diversity_weight=0']
wide = ['model.backbone.base_channels=16', 'model.align_head.in_channels=128',
        'model.align_head.fidelity_hidden_channels=128', 'model.local_head.in_channels=128']

runs = [dict(name=f'labels_s{seed}', config=label_config, seed=seed, max_epochs=60,
             cfg_options=labels_only) for seed in range(3)]
runs += [dict(name=f'labels-loc_s{seed}', config=label_config, seed=seed, max_epochs=60,
              cfg_options=labels_loc) for seed in range(3)]
runs += [dict(name=f'labels-loc-m07_s{seed}', config=label_config, seed=seed, max_epochs=60,
              cfg_options=labels_loc + ['model.local_head.margin=0.7']) for seed in (0, 3)]
runs += [dict(name='labels-wide_s1', config=label_config, seed=1, max_epochs=60,
              cfg_options=labels_only + wide),
         dict(name='labels-loc-wide_s1', config=label_config, seed=1, max_epochs=60,
              cfg_options=labels_loc + wide)]
runs += [dict(name=f'sdc-2880_s{seed}', config=sdc_config, seed=seed, max_epochs=120,
              evaluate=True) for seed in range(2)]
runs += [dict(name='sdc-wide-2880_s0', config=sdc_config, seed=0, max_epochs=120,
              cfg_options=wide, evaluate=True)]
runs += [dict(name='sdc-mlp-2880_s0', config=mlp_config, seed=0, max_epochs=120,
              evaluate=True)]
runs += [dict(name=f'teacher-2880_s{seed}', config=teacher_config, seed=seed, max_epochs=120,
              evaluate=True) for seed in range(3)]
runs += [dict(name=f'teacher-fid-2880_s{seed}', config=teacher_config, seed=seed,
              max_epochs=120, evaluate=True,
              cfg_options=['model.align_head.fidelity_through_dynamic_clip_codes=False'])
         for seed in range(2)]
