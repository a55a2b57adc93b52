"""`sourcestance`: one entry point, a subcommand per job.

Exit codes: 0 success; 1 the data has problems (validate) or a check failed;
2 wrong usage; 3 a config, data or input error; 4 a model that cannot be loaded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from inference.runtimes import RUNTIMES

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INPUT, EXIT_MODEL = 0, 1, 2, 3, 4

EPILOG = """examples:
  sourcestance train --config configs/default.yaml --output models/default
  sourcestance train --data new-labels.jsonl --from models/default --output models/retrained
  sourcestance score --model models/default --input data/sample.jsonl --output scored.jsonl
  sourcestance evaluate --model models/default --articles data/articles.jsonl --labels data/labels.jsonl --split test
  sourcestance compare --models models/a models/b --articles data/articles.jsonl --labels data/labels.jsonl
  sourcestance serve --model models/default --port 8000
  sourcestance data validate data/articles.jsonl data/labels.jsonl
  sourcestance suggest --model models/default --input new-articles.jsonl -n 200 --output tasks.json
  sourcestance data import --from label-studio export.json --output new-labels.jsonl

exit codes: 0 ok, 1 data problems found, 2 usage error, 3 config/data/input error, 4 model cannot be loaded
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sourcestance",
        description="Label each sentence of news articles with its speaker and the speaker's stance "
        "toward Egypt, Hamas and the Palestinian Authority (targets come from the model's config).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="fine-tune a model on the labelled corpus",
        description="Train on the config's train split, select the best epoch on dev, "
        "and write a self-describing model directory with metrics on dev and test.",
    )
    p.add_argument("--config", default="configs/default.yaml", help="run config YAML (default: %(default)s)")
    p.add_argument("--output", default="models/default", help="model directory to write (default: %(default)s)")
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="LABELS.jsonl",
        help="extra label file merged over the corpus (repeatable; later files win); labels of an article the "
        "articles file lacks make a new article when they cover every sentence",
    )
    p.add_argument(
        "--from",
        dest="parent",
        metavar="MODEL_DIR",
        help="start from this trained model: its encoder and every head with the same values; new heads start fresh",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "score",
        help="score a corpus of articles (JSONL, CSV, Parquet, datasets folder)",
        description="Read articles ({'id', 'text'} or {'id', 'sentences'}) from JSONL, CSV, Parquet or a saved datasets "
        "folder and write one "
        "scored sentence per line. Bad records go to OUT.rejects.jsonl; --resume continues an "
        "interrupted run without duplicates.",
    )
    p.add_argument("--model", required=True, help="model directory written by `sourcestance train`")
    p.add_argument(
        "--input",
        required=True,
        nargs="+",
        help="input corpus: .jsonl, .csv, .parquet or a saved datasets folder (several files with --engine ray)",
    )
    p.add_argument(
        "--input-format", choices=["jsonl", "csv", "parquet", "dataset"], help="override the format the extension implies"
    )
    p.add_argument("--output", required=True, help="output file: .jsonl, or .parquet (written when the job completes)")
    p.add_argument("--rejects", help="rejects file (default: OUT.rejects.jsonl)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run of the same input")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass at most (default: %(default)s)")
    p.add_argument("--chunk-articles", type=int, default=64, help="articles scored and committed together (default: %(default)s)")
    p.add_argument("--max-chars", type=int, default=100_000, help="reject longer articles (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="torch",
        help="encoder engine: PyTorch in fp32 or bfloat16 (fast on CPUs with AVX512-BF16/AMX), or ONNX Runtime "
        "in fp32 or int8 (exported into the model directory on first use)",
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process (resumable); ray: Ray Data with a pool of model actors (RAY_ADDRESS for a cluster)",
    )
    p.add_argument("--workers", type=int, default=2, help="model actors with --engine ray (default: %(default)s)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "evaluate",
        help="metrics of a model on labelled data, beside a baseline",
        description="Every metric of ANNOTATION.md per target and overall, confusion matrices, and "
        "the same metrics for a TF-IDF + logistic regression baseline with a rule-based speaker "
        "finder trained on the model's training split.",
    )
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--articles", required=True, help="articles JSONL")
    p.add_argument("--labels", required=True, help="labels JSONL")
    p.add_argument("--split", default=None, help="evaluate only articles of this split (default: all)")
    p.add_argument("--json", dest="json_out", help="also write metrics and confusion matrices to this file")
    p.add_argument("--no-baseline", action="store_true", help="skip the scikit-learn baseline")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "compare",
        help="two models on the same labelled sentences, with paired bootstrap CIs",
        description="Every metric for models A and B on the same sentences, the difference B - A and its 95%% "
        "confidence interval from a paired bootstrap over articles (sentences of one article are not independent), "
        "and a verdict per headline metric: B better or worse only when the interval excludes 0.",
    )
    p.add_argument("--models", nargs=2, required=True, metavar=("A", "B"), help="the two model directories")
    p.add_argument("--articles", required=True, help="articles JSONL")
    p.add_argument("--labels", required=True, help="labels JSONL")
    p.add_argument("--split", default="test", help="compare on articles of this split (default: %(default)s)")
    p.add_argument(
        "--bootstrap", type=_non_negative, default=1000, help="bootstrap rounds; 0 skips the CIs (default: %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples (default: %(default)s)")
    p.add_argument("--json", dest="json_out", help="also write the comparison to this file")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "serve",
        help="HTTP scoring service (FastAPI under uvicorn)",
        description="Serve POST /v1/score, GET /healthz, /readyz, /v1/model and /metrics. Binds to 127.0.0.1 unless "
        "told otherwise; concurrent requests are micro-batched into one model call.",
    )
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--api-key-file", help="file holding an API key; clients send 'Authorization: Bearer KEY'")
    p.add_argument("--max-articles", type=int, default=64, help="articles per request at most (default: %(default)s)")
    p.add_argument("--max-chars", type=int, default=200_000, help="characters per request at most (default: %(default)s)")
    p.add_argument("--max-batch-sentences", type=int, default=256, help="sentences per model call at most (default: %(default)s)")
    p.add_argument(
        "--max-wait-ms", type=float, default=5.0, help="how long a request waits to batch with others (default: %(default)s)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--runtime", choices=RUNTIMES, default="torch", help="encoder engine (see score)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "suggest",
        help="pick the sentences to label next (active learning), as Label Studio tasks",
        description="Score a corpus, rank its sentences by the model's uncertainty (over attribution, affiliation\n"
        "and each stance head) and write the top N as Label Studio tasks pre-filled with the model's labels.\n"
        "At most --per-article sentences come from one article, taken round robin: every article's most\n"
        "uncertain sentence first, then every article's second, and so on.",
        epilog="example:\n  sourcestance suggest --model models/default --input new-articles.jsonl -n 200 --output tasks.json\n"
        "then import tasks.json into a Label Studio project set up with configs/label-studio.xml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--input", required=True, help="corpus to choose from: .jsonl, .csv, .parquet or a saved datasets folder")
    p.add_argument(
        "--input-format", choices=["jsonl", "csv", "parquet", "dataset"], help="override the format the extension implies"
    )
    p.add_argument("-n", type=_at_least_one, default=200, help="how many sentences to suggest (default: %(default)s)")
    p.add_argument("--output", required=True, help="Label Studio tasks to write (JSON)")
    p.add_argument(
        "--strategy",
        choices=["entropy", "margin"],
        default="entropy",
        help="uncertainty of a head: normalised entropy, or 1 - (top1 - top2) (default: %(default)s)",
    )
    p.add_argument(
        "--per-article", type=_at_least_one, default=2, help="sentences from one article at most (default: %(default)s)"
    )
    p.add_argument("--context", type=_at_least_one, default=None, help="preceding sentences shown per task (default: all)")
    p.add_argument("--max-chars", type=int, default=100_000, help="skip longer articles (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.set_defaults(func=cmd_suggest)

    p = sub.add_parser("data", help="corpus tools (validate, stats, import, export-tasks)")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    v = data_sub.add_parser(
        "validate",
        help="check corpus files against the label contract",
        description="Check article and label files: allowed values, spans, contiguous "
        "indexes, labels matching articles, no sentence in two splits. Prints file:line: "
        "field: problem; exits 1 on any problem.",
    )
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--config", default=None, help="config whose labels section defines allowed values")
    v.set_defaults(func=cmd_validate)
    st = data_sub.add_parser(
        "stats",
        help="counts per field value and split, as a markdown table",
        description="Print the datasheet table for an articles and a labels file.",
    )
    st.add_argument("articles")
    st.add_argument("labels")
    st.set_defaults(func=cmd_stats)
    ex = data_sub.add_parser(
        "export-tasks",
        help="scored sentences to Label Studio tasks pre-filled with the model's labels",
        description="Turn scored sentences (the output of `sourcestance score`, or a labels file) into Label Studio\n"
        "tasks: data (article_id, sentence_index, text, context) and a prediction holding the record's\n"
        "labels, so labellers correct them. Set the project up with configs/label-studio.xml (or the config\n"
        "training.labelstudio.labelling_config writes for other targets).",
        epilog="example:\n  sourcestance score --model models/default --input new.jsonl --output scored.jsonl\n"
        "  sourcestance data export-tasks --input scored.jsonl --output tasks.json --model models/default",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ex.add_argument("--input", required=True, help="scored sentences, JSONL")
    ex.add_argument("--output", required=True, help="tasks file to write (JSON list)")
    _labels_options(ex)
    ex.add_argument("--context", type=_at_least_one, default=None, help="preceding sentences shown per task (default: all)")
    ex.set_defaults(func=cmd_export_tasks)
    im = data_sub.add_parser(
        "import",
        help="labels from Label Studio, doccano or CSV into contract label records",
        description="Convert labels made in a labelling tool into records like data/labels.jsonl, checked as\n"
        "`data validate` checks them (README, 'Labelling and retraining', has the layouts):\n"
        "  label-studio  JSON export of a project using configs/label-studio.xml; the latest non-cancelled\n"
        "                annotation of a task counts, tasks without one are skipped\n"
        "  doccano       JSONL, article_id and sentence_index metadata, spans labelled 'speaker', categories\n"
        "                'attribution:V', 'affiliation:V', 'stance:TARGET:V' (a target without one is none)\n"
        "  csv           columns article_id, sentence_index, text, attribution, span, mention, affiliation,\n"
        "                stance_TARGET for each target\n"
        "Attribution none implies no span or mention and affiliation author; the mention defaults to the\n"
        "span. Bad rows are printed as FILE:N: field: problem (N: the task, line or spreadsheet row) and\n"
        "left out; the good ones are written.",
        epilog="examples:\n  sourcestance data import --from label-studio export.json --output new-labels.jsonl\n"
        "  sourcestance data import --from csv sheet.csv --output new-labels.jsonl --config configs/default.yaml\n"
        "  sourcestance train --data new-labels.jsonl\n\n"
        "exit codes: 0 all rows imported, 1 some rows bad (the rest written), 3 the file cannot be read",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    im.add_argument(
        "--from", dest="source_format", required=True, choices=["label-studio", "doccano", "csv"], help="the tool FILE comes from"
    )
    im.add_argument("file", metavar="FILE", help="the export to read")
    im.add_argument("--output", required=True, help="label records to write (JSONL)")
    im.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    _labels_options(im)
    im.set_defaults(func=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    from inference.config import ConfigError
    from inference.model import ModelLoadError
    from inference.records import RecordError
    from inference.score import ScoreJobError
    from inference.sources import SourceError

    try:
        return args.func(args)
    except (ConfigError, RecordError, ScoreJobError, SourceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_MODEL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK
    except Exception as e:  # a data error from training/ reaches here with its own type
        from training.data import CorpusError

        if isinstance(e, CorpusError):
            print(f"error: {e}", file=sys.stderr)
            return EXIT_INPUT
        raise


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:
        pass


def cmd_train(args) -> int:
    from inference.config import RunConfig
    from training.evaluate import format_table
    from training.trainer import train

    if args.parent and Path(args.parent).resolve() == Path(args.output).resolve():
        print("error: --output must not be the --from model directory; write the new model elsewhere", file=sys.stderr)
        return EXIT_USAGE
    config = RunConfig.load(args.config)
    results = train(config, args.output, args.data, progress=not args.quiet, parent=args.parent)
    print(format_table({split: r["metrics"] for split, r in results.items()}))
    print(f"model written to {args.output}")
    return EXIT_OK


def cmd_score(args) -> int:
    from inference.predict import Predictor
    from inference.score import ScoreJob, sibling

    if args.engine == "ray":
        from inference.model import load_model
        from inference.ray_engine import score_with_ray

        if args.resume:
            print("error: --resume is for the local engine; a Ray job is rerun whole", file=sys.stderr)
            return EXIT_USAGE
        load_model(args.model)  # a wrong directory fails here, not inside an actor
        summary = score_with_ray(
            args.model,
            args.input,
            args.output,
            args.rejects,
            workers=args.workers,
            threads_per_worker=args.threads,
            runtime=args.runtime,
            batch_articles=args.chunk_articles,
            batch_size=args.batch_size,
            max_chars=args.max_chars,
            input_format=args.input_format,
            overwrite=args.overwrite,
        )
        rejects = args.rejects or sibling(Path(args.output), ".rejects.jsonl")
    else:
        if len(args.input) != 1:
            print("error: the local engine reads one input; pass several with --engine ray", file=sys.stderr)
            return EXIT_USAGE
        predictor = Predictor.from_dir(args.model, runtime=args.runtime, batch_size=args.batch_size, threads=args.threads)
        job = ScoreJob(
            predictor,
            args.input[0],
            args.output,
            args.rejects,
            args.chunk_articles,
            args.max_chars,
            not args.quiet,
            args.input_format,
        )
        summary = job.run(resume=args.resume, overwrite=args.overwrite)
        rejects = job.rejects_path
    print(summary.render())
    print(f"output: {args.output}" + (f"; rejects: {rejects}" if summary.rejects else ""))
    return EXIT_OK


def cmd_serve(args) -> int:
    import uvicorn

    from inference.predict import Predictor
    from inference.service import ServiceSettings, create_app

    api_key = None
    if args.api_key_file:
        path = Path(args.api_key_file)
        if not path.is_file() or not path.read_text(encoding="utf-8").strip():
            print(f"error: API key file {path} is missing or empty", file=sys.stderr)
            return EXIT_INPUT
        api_key = path.read_text(encoding="utf-8").strip()
    if args.host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        print(f"warning: serving on {args.host} without --api-key-file: anyone who can reach it can use it", file=sys.stderr)
    settings = ServiceSettings(args.max_articles, args.max_chars, args.max_batch_sentences, args.max_wait_ms, api_key)
    predictor = Predictor.from_dir(args.model, runtime=args.runtime, threads=args.threads)
    app = create_app(predictor, settings, args.model)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from inference.predict import Predictor
    from training.baselines import Baseline
    from training.data import load_corpus, select_split
    from training.evaluate import Evaluator, format_table
    from training.validate import validate_files

    predictor = Predictor.from_dir(args.model)
    config = predictor.config
    problems = validate_files([args.articles, args.labels], config.labels)
    if problems:
        for p in problems[:20]:
            print(p, file=sys.stderr)
        print(f"error: {len(problems)} problem(s) in the evaluation data", file=sys.stderr)
        return EXIT_INPUT
    corpus = load_corpus(args.articles, args.labels)
    articles = select_split(corpus, args.split) if args.split else corpus
    evaluator = Evaluator(articles, predictor.schema, args.split or "all")
    columns = {"transformer": evaluator.report(predictor.predict)}
    if not args.no_baseline:
        train_corpus = load_corpus(config.data.articles, config.data.labels)
        baseline = Baseline(config).fit(select_split(train_corpus, config.data.train_split))
        columns["baseline"] = evaluator.report(baseline.predict)
    print(f"{len(evaluator.gold)} sentences from {len(articles)} articles")
    print(format_table({name: r["metrics"] for name, r in columns.items()}))
    for name, values in columns["transformer"]["confusion"].items():
        print(f"\nconfusion {name} (rows gold, columns predicted): {' '.join(values['labels'])}")
        for label, row in zip(values["labels"], values["matrix"]):
            print(f"  {label:>10s} " + " ".join(f"{v:6d}" for v in row))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(columns, indent=2), encoding="utf-8")
    return EXIT_OK


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def cmd_compare(args) -> int:
    from training.compare import CompareError, compare_models, format_comparison

    try:
        result = compare_models(*args.models, args.articles, args.labels, args.split, args.bootstrap, args.seed)
    except CompareError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    print(format_comparison(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return EXIT_OK


def cmd_validate(args) -> int:
    from inference.config import LabelsConfig, RunConfig
    from training.validate import validate_files

    labels = RunConfig.load(args.config).labels if args.config else LabelsConfig()
    problems = validate_files(args.files, labels)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"ok: {', '.join(args.files)}")
    return EXIT_OK


def cmd_stats(args) -> int:
    from training.corpus_stats import stats_table
    from training.data import load_corpus

    print(stats_table(load_corpus(args.articles, args.labels)))
    return EXIT_OK


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _labels_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config", help="run config whose labels section defines targets and values (default: built-in)")
    group.add_argument("--model", help="take the labels from this model directory instead")


def _labels_from(args):
    """The label schema named by --config or --model; the built-in default otherwise."""
    from inference.config import LabelsConfig, RunConfig
    from inference.model import CONFIG_FILE, ModelLoadError

    if args.model:
        path = Path(args.model) / CONFIG_FILE
        if not path.is_file():
            raise ModelLoadError(f"{args.model} is not a model directory (no {CONFIG_FILE})")
        return RunConfig.load(path).labels
    return RunConfig.load(args.config).labels if args.config else LabelsConfig()


def cmd_export_tasks(args) -> int:
    from training.label_export import read_scored, tasks_for_records, write_tasks

    labels = _labels_from(args)
    if not Path(args.input).is_file():
        print(f"error: input {args.input} not found", file=sys.stderr)
        return EXIT_INPUT
    records, problems = read_scored(args.input)
    for p in problems:
        print(p, file=sys.stderr)
    tasks = tasks_for_records(records, labels, args.context)
    write_tasks(tasks, args.output)
    print(f"wrote {len(tasks)} tasks to {args.output}" + (f"; {len(problems)} problem(s) in the input" if problems else ""))
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_import(args) -> int:
    from training.label_import import LabelFileError, import_labels, write_records

    labels = _labels_from(args)
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        print(f"error: {output} exists; pass --overwrite to replace it", file=sys.stderr)
        return EXIT_INPUT
    if output.exists() and output.resolve() == Path(args.file).resolve():
        print("error: the output would overwrite the file being imported", file=sys.stderr)
        return EXIT_INPUT
    try:
        result = import_labels(args.file, args.source_format, labels)
    except LabelFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    for p in result.problems:
        print(p)
    write_records(result.records, output)
    summary = f"imported {len(result.records)} label records into {output}"
    if result.skipped:
        summary += f"; skipped {result.skipped} task(s) without an annotation"
    if result.problems:
        summary += f"; {result.bad_rows} bad row(s) left out, {len(result.problems)} problem(s) listed above"
    print(summary, file=sys.stderr)
    return EXIT_PROBLEMS if result.problems else EXIT_OK


def cmd_suggest(args) -> int:
    from inference.predict import Predictor
    from inference.score import read_articles
    from inference.sources import detect_format, iter_source
    from training.label_export import write_tasks
    from training.labelstudio import context_of, make_task
    from training.suggest import Ranker

    if not Path(args.input).exists():
        print(f"error: input {args.input} not found", file=sys.stderr)
        return EXIT_INPUT
    fmt = detect_format(args.input, args.input_format)
    predictor = Predictor.from_dir(args.model, threads=args.threads)
    labels = predictor.config.labels
    ranker = Ranker(args.n, args.per_article, args.strategy)
    chunk, rejects, sentences = [], 0, 0

    def flush() -> None:
        nonlocal sentences
        for article, records in zip(chunk, predictor.predict(chunk)):
            ranker.add_article(records, article.sentences)
            sentences += len(records)
        chunk.clear()

    for number, item in read_articles(iter_source(args.input, fmt, 0, lambda _: None), args.max_chars):
        if isinstance(item, dict):
            rejects += 1
            print(f"{args.input}:{number}: skipped: {item['reason']}", file=sys.stderr)
            continue
        chunk.append(item)
        if len(chunk) >= 64:
            flush()
    flush()
    tasks = [
        make_task(
            s.record,
            context_of(s.payload, s.record["sentence_index"], args.context),
            labels,
            1.0 - s.uncertainty,
            uncertainty=round(s.uncertainty, 5),
        )
        for s in ranker.top()
    ]
    write_tasks(tasks, args.output)
    print(
        f"scored {sentences} sentences; wrote the {len(tasks)} most uncertain ({args.strategy}, at most "
        f"{args.per_article} per article) to {args.output}" + (f"; {rejects} record(s) skipped" if rejects else "")
    )
    return EXIT_OK
