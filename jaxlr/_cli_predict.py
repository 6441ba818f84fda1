"""``jaxlr predict MODEL.json DATA.csv``: a saved model's predictions for the rows of a CSV file.

The CSV holds the model's features by name, in any order; with the target column too, the MSE and R² are
printed (on stderr when the predictions go to stdout). Exit codes: 0, or 2 for bad input, with one line.
"""

import argparse

import jax
import numpy as np

from jaxlr._cli_util import check_outputs, output_errors
from jaxlr._data import DataError, csv_source, load_model, parse, read_header
from jaxlr._io import STDOUT, atomic_write

HELP = "predict with a model file that jaxlr fit --save-model wrote"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("model", metavar="MODEL.json", help="a model file written by jaxlr fit --save-model")
    add("data", metavar="DATA.csv", help="a CSV file with a header row naming the model's features")
    add("--out", metavar="PRED.csv", default=STDOUT, help="where to write the predictions (default: -, stdout)")
    add("--sep", help="the CSV separator (default: detected from the header line: comma, semicolon, tab or pipe)")
    add("--encoding", default="utf-8", help="the CSV file's text encoding, e.g. latin-1 (%(default)s)")


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    model = load_model(args.model)
    if model.dtype == "float64":
        jax.config.update("jax_enable_x64", True)  # the model computes in float64
    source = csv_source(args.data)
    header = read_header(source, args.sep, args.encoding)
    if missing := [name for name in model.features if name not in header.names]:
        raise DataError(
            f"{source.label} has no column {missing[0]!r}, a feature of the model {args.model} (its features: "
            f"{', '.join(model.features)}); the file's columns are {', '.join(header.names)}"
        )
    target = () if model.target is None or model.target not in header.names else (model.target,)
    values, _ = parse(source, header, (*model.features, *target), encoding=args.encoding)
    d = len(model.features)
    predictions = np.asarray(model.predict(values[:, :d]))
    text = "\n".join([model.target or "prediction", *map(str, predictions)]) + "\n"  # str(): shortest round trip
    with output_errors(), atomic_write(args.out) as f:
        f.write(text)
    if args.out != STDOUT:
        print(f"wrote {len(predictions)} predictions to {args.out}")
    if target:
        y = values[:, d]
        mse, variance = float(np.mean((predictions.astype(np.float64) - y) ** 2)), float(np.var(y))
        r2 = 1.0 - mse / variance if variance > 0 else float("nan")
        print(f"against {model.target!r} in {args.data}: MSE {mse:.8g}, R² {r2:.6g} ({len(y)} rows)")
    return 0
