"""predict (argmax with MATLAB's first-max rule, mapped through model.labels,
batched by bsize) and cal_accuracy."""
import numpy as np
import pytest

from simplecnn_py.cnn.cal_accuracy import cal_accuracy
from simplecnn_py.support.errors import InputError
from simplecnn_py.cnn.feedforward import feedforward
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.predict import predict

from test_port_common import CONFIGS, make_param, make_prob, perturb_biases, port_path  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("port_path")


def test_predict_maps_argmax_through_label_enum():
    param = make_param(**CONFIGS["stride2_pool3_leftover"])       # nL = 2
    model = perturb_biases(init_model(param, 3))
    prob = make_prob(model, 8, seed=1)
    model.labels = np.array([-4, 10])
    out = feedforward(prob.data, param, model, init_net(param, model)).Z[model.L + 1]
    model.bias[model.L][1, 0] -= np.median(out[1] - out[0])        # half the instances each way
    out = feedforward(prob.data, param, model, init_net(param, model)).Z[model.L + 1]
    expected = np.where(out[1] > out[0], 10, -4)
    assert len(set(expected)) == 2                                   # both classes occur
    for bsize in (8, 4, 1, 100):
        param.bsize = bsize
        np.testing.assert_array_equal(predict(prob, param, model, init_net(param, model)), expected)


def test_predict_tie_goes_to_first_class():
    param = make_param(**CONFIGS["pool3"])                           # nL = 4
    model = init_model(param, 0)
    model.weight[model.L][:] = 0
    model.bias[model.L][:, 0] = [0.5, 2.0, 2.0, 1.0]                 # classes 2 and 3 tie
    prob = make_prob(model, 3)
    model.labels = np.array([0, 3, 7, 9])
    param.bsize = 128
    np.testing.assert_array_equal(predict(prob, param, model, init_net(param, model)), [3, 3, 3])


def test_cal_accuracy():
    assert cal_accuracy([1, 2, 3, 4], np.array([[1], [2], [0], [4]])) == 0.75
    assert cal_accuracy(np.array([5, 5]), [5, 6]) == 0.5
    with pytest.raises(InputError, match="3 predictions for 2 true labels"):
        cal_accuracy([1, 2, 3], [1, 2])


def test_feedforward_rejects_data_of_the_wrong_height():
    param = make_param(**CONFIGS["pool3"])
    model = init_model(param)
    with pytest.raises(InputError, match="instances have 200 values.*= 216"):
        feedforward(np.zeros((200, 2), order="F"), param, model, init_net(param, model))


def test_lossgrad_subset_rejects_data_of_the_wrong_height():
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
    param = make_param(**CONFIGS["pool3"])
    model = init_model(param)
    prob = make_prob(model, 2)
    prob.data = np.zeros((215, 2), order="F")
    with pytest.raises(InputError, match="instances have 215 values"):
        lossgrad_subset(prob, param, model, init_net(param, model), [1, 2], "fungrad")
