# Entry point: SDC pretraining of R(2+1)D-18 on Kinetics-400, the paper's recipe.
#   bash tools/dist_train.sh configs/sdc_r2plus1d_k400.py 8
# The full config, with the settings explained, is configs/sdc/sdc_r2plus1d-r18_8xb8-16x1x1-100e_kinetics400-rgb.py.
_base_ = ['./sdc/sdc_r2plus1d-r18_8xb8-16x1x1-100e_kinetics400-rgb.py']
