from strata.benchmarks.convergence import stop_epoch


def test_patience_stops_after_that_many_epochs_without_a_new_best():
    curve = [0.9, 0.7, 0.71, 0.69, 0.7, 0.72, 0.73, 0.6]
    assert stop_epoch(curve, patience=3) == 7  # best at 4, three worse: 5, 6, 7
    assert stop_epoch(curve, patience=4) == len(curve)  # epoch 8 improves again
    assert stop_epoch([1.0, 0.9, 0.8], patience=1) == 3  # never stopped
