"""The data-pipeline benchmark runs end to end (no timing assertions)."""
import json
import os.path as osp

import pytest

from sdc_mmaction.apis.benchmark_pipeline import benchmark_pipelines, format_report


def test_benchmark_library_function(generated_dataset):
    result = benchmark_pipelines(video_dir=osp.join(generated_dataset, 'videos', 'scenes',
                                                    'train'),
                                 clip_len=4, img_size=32, clips_per_round=2, rounds=2,
                                 warmup=1)
    assert result['num_videos'] == 12
    assert result['clips_per_pipeline'] == 4
    assert result['stock_clips_per_s'] > 0 and result['sdc_clips_per_s'] > 0
    assert result['ratio'] == pytest.approx(result['sdc_clips_per_s'] /
                                            result['stock_clips_per_s'])
    assert len(result['per_round_clips_per_s']['sdc']) == 2
    assert result['cpu_ratio'] == pytest.approx(result['sdc_clips_per_cpu_s'] /
                                                result['stock_clips_per_cpu_s'])
    report = format_report(result)
    assert 'ratio SDC / stock' in report and 'clips/s' in report
    with pytest.raises(ValueError, match='exactly one of ann_file and video_dir'):
        benchmark_pipelines()


def test_benchmark_tool(tool_runner, generated_dataset, tmp_path):
    out = tmp_path / 'bench.json'
    proc = tool_runner(['tools/benchmark_pipeline.py', '--ann-file',
                        osp.join(generated_dataset, 'annotations', 'val_action.txt'),
                        '--data-prefix', osp.join(generated_dataset, 'videos'),
                        '--clip-len', '4', '--size', '32', '--clips', '2', '--rounds', '1',
                        '--warmup', '0', '--json', str(out)], timeout=300)
    assert 'ratio SDC / stock' in proc.stdout
    with open(out) as f:
        result = json.load(f)
    assert result['num_videos'] == 4 and result['ratio'] > 0
