"""The training recipe: setup, train with dev selection, save a self-describing model.

Reads top to bottom: load and validate the corpus, encode it once, fine-tune encoder
and heads together with a summed loss, keep the weights that score best on dev, then
write the model directory with its metrics and card.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from inference.config import RunConfig
from inference.model import (
    STANCE_BIAS_FILE,
    WEIGHTS_FILE,
    ModelLoadError,
    build_model,
    load_parent_weights,
    save_model,
)
from inference.predict import Predictor, collate
from inference.schema import LabelSchema, is_stance_head
from training.data import (
    IGNORE,
    CorpusError,
    MergeReport,
    encode_corpus,
    load_unlabelled,
    merge_corpus,
    select_split,
    window_from_row,
)
from training.evaluate import Evaluator
from training.metrics import macro_f1
from training.model_card import data_record, file_digest, parent_record, write_model_card
from training.validate import validate_files, validate_merged_labels

log = logging.getLogger(__name__)


class TrainingRecipe:
    def __init__(
        self,
        config: RunConfig,
        output_dir: str | Path,
        extra_labels: list[str] = (),
        progress: bool = True,
        parent: str | Path | None = None,
    ):
        self.config = config
        self.output_dir = Path(output_dir)
        self.extra_labels = list(extra_labels)
        self.progress = progress
        # Read before any data is loaded, so that a wrong --from fails fast.
        self.parent = Path(parent) if parent is not None else None
        self.parent_info: dict | None = parent_record(self.parent) if self.parent is not None else None
        teacher = config.train.distill_from
        if teacher is not None and not (Path(teacher) / WEIGHTS_FILE).is_file():
            raise ModelLoadError(
                f"train.distill_from: {teacher} is not a trained model directory (no {WEIGHTS_FILE}); "
                f"train the teacher first, e.g. sourcestance train --config configs/default.yaml --output {teacher}"
            )
        self.schema = LabelSchema.from_config(config.labels)
        self.stance_bias: dict[str, float] = {}  # filled by fit_stance_bias when the config asks
        self.temperatures: dict[str, float] = {}  # filled by _calibrate at save time; selection sees T = 1

    # -- setup -------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.config
        seed_everything(cfg.train.seed)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        problems = validate_files([cfg.data.articles, cfg.data.labels], cfg.labels)
        problems += validate_merged_labels(self.extra_labels, cfg.labels)
        if problems:
            shown = "\n".join(f"  {p}" for p in problems[:20])
            raise CorpusError(f"the training data has {len(problems)} problem(s):\n{shown}")
        corpus, merge = merge_corpus(cfg.data.articles, cfg.data.labels, self.extra_labels, cfg.data.train_split)
        self.train_articles = select_split(corpus, cfg.data.train_split, cfg.data.max_train_articles)
        dev = select_split(corpus, cfg.data.dev_split, cfg.data.max_eval_articles)
        test = select_split(corpus, cfg.data.test_split, cfg.data.max_eval_articles)
        if not self.train_articles or not dev:
            raise CorpusError(f"need articles in splits {cfg.data.train_split!r} and {cfg.data.dev_split!r}")
        self._record_data(
            corpus, merge, {cfg.data.train_split: self.train_articles, cfg.data.dev_split: dev, cfg.data.test_split: test}
        )
        self.dev = Evaluator(dev, self.schema, "dev")
        self.test = Evaluator(test, self.schema, "test") if test else None
        self.model, self.tokenizer = build_model(cfg)
        self._load_parent()
        self.unlabelled = load_unlabelled(cfg.data.unlabelled, dev + test) if cfg.data.unlabelled else []
        clash = sorted({a.id for a in self.unlabelled} & {a.id for a in self.train_articles})
        if clash:
            raise CorpusError(f"{cfg.data.unlabelled}: article id(s) {', '.join(clash[:5])} are also labelled articles' ids")
        learnt = self.train_articles + self.unlabelled
        self.train_set = encode_corpus(learnt, self.tokenizer, cfg.model, self.schema)
        self.train_rows = self.train_set.to_list()  # plain lists: batches are built every step
        self.train_lengths = [len(row["input_ids"]) for row in self.train_rows]
        self.train_sentences = sum(len(a.sentences) for a in self.train_articles)
        self.unlabelled_sentences = sum(len(a.sentences) for a in self.unlabelled)
        self.distillation = self._attach_teacher(learnt) if cfg.train.distill_from else None
        self.loss_weights = self._class_weights()
        self.steps_per_epoch = math.ceil(len(self.train_set) / cfg.train.batch_size)
        total = self.steps_per_epoch * cfg.train.epochs
        self.total_steps = min(total, cfg.train.max_steps) if cfg.train.max_steps else total
        self.optimizer, self.scheduler = self._optimizer()
        log.info(
            "training on %d labelled and %d unlabelled sentences (%d encoder inputs) from %d articles, %d steps",
            self.train_sentences,
            self.unlabelled_sentences,
            len(self.train_set),
            len(learnt),
            self.total_steps,
        )

    def _attach_teacher(self, articles: list) -> dict:
        """Give every training sentence the teacher's probabilities for each head it shares with the student.

        The teacher reads the articles its own way (its layout, context and tokenizer), so
        any trained model directory can teach; a head it lacks, or with other values, is
        learnt from the gold labels alone. Probabilities are taken before calibration.
        """
        cfg = self.config.train
        teacher = Predictor.from_dir(cfg.distill_from, temperatures={})
        heads = [n for n, values in self.schema.heads.items() if teacher.schema.heads.get(n) == values]
        if not heads:
            raise ModelLoadError(f"teacher {cfg.distill_from} shares no head (same name and values) with this config")
        log.info("teacher %s labels %d articles for heads %s", cfg.distill_from, len(articles), ", ".join(heads))
        probs = {}
        for i in tqdm(range(0, len(articles), 32), desc="teacher", unit="batch", disable=not self.progress):
            chunk = articles[i : i + 32]
            for article, per_sentence in zip(chunk, teacher.head_probabilities([a.as_input() for a in chunk])):
                probs[article.id] = per_sentence
        for row in self.train_rows:
            sentences = probs[row["article"]]
            row["teacher"] = {n: [sentences[k][n].tolist() for k in row["sentences"]] for n in heads}
        info = {"teacher": parent_record(cfg.distill_from), "heads": heads}
        info.update(weight=cfg.distill_weight, temperature=cfg.distill_temperature)
        if self.unlabelled:
            path = self.config.data.unlabelled
            info["unlabelled"] = {
                "path": path,
                "sha256": file_digest([path]),
                "articles": len(self.unlabelled),
                "sentences": self.unlabelled_sentences,
            }
        return info

    def _record_data(self, corpus: list, merge: MergeReport, used: dict[str, list]) -> None:
        """Log what the extra label files changed and keep the data record for the model card."""
        cfg = self.config.data
        self.data_record = data_record(cfg.articles, cfg.labels, self.extra_labels, merge, used)
        if not self.extra_labels:
            return
        m = self.data_record["merge"]
        log.info(
            "merged %d label record(s) from %d file(s): %d overridden, %d duplicate(s) dropped, %d new article(s) (%d sentences)",
            m["records"],
            len(self.extra_labels),
            m["overridden"],
            m["duplicates_dropped"],
            m["new_articles"],
            m["new_sentences"],
        )
        for split, counts in self.data_record["splits"].items():
            if split != cfg.train_split and counts["merged_sentences"]:
                log.warning(
                    "%d merged label(s) are for sentences of split %r: its metrics are measured against them",
                    counts["merged_sentences"],
                    split,
                )
        merged_ids = {aid for aid, _ in merge.merged}
        left_out = {a.id for a in corpus if a.split == cfg.train_split and a.id in merged_ids} - {
            a.id for a in self.train_articles
        }
        if left_out:
            log.warning(
                "data.max_train_articles=%s leaves out %d training article(s) with merged labels",
                cfg.max_train_articles,
                len(left_out),
            )

    def _load_parent(self) -> None:
        """Start from the parent model where it fits: encoder and same-valued heads; new heads start fresh."""
        if self.parent is None:
            return
        parts = load_parent_weights(self.model, self.parent)
        self.parent_info.update(parts)
        log.info(
            "starting from %s: loaded %s; fresh %s",
            self.parent,
            ", ".join(parts["loaded"]),
            ", ".join(parts["fresh"]) or "nothing",
        )

    def _class_weights(self) -> dict[str, torch.Tensor]:
        """Inverse-frequency weights: rare stances and sides are not drowned by 'none'."""
        weights = {}
        t = self.config.train
        for name, values in self.schema.heads.items():
            labels = [v for row in self.train_rows for v in row[name] if v != IGNORE]
            counts = np.bincount(np.asarray(labels, dtype=int), minlength=len(values)).astype(float)
            power = t.stance_class_weight_power if is_stance_head(name) else t.class_weight_power
            w = np.maximum(counts, 1.0) ** -power
            weights[name] = torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float)
        return weights

    def _optimizer(self):
        t = self.config.train
        encoder_params = [p for n, p in self.model.named_parameters() if n.startswith("encoder.")]
        head_params = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        optimizer = torch.optim.AdamW(
            [{"params": encoder_params, "lr": t.learning_rate}, {"params": head_params, "lr": t.head_learning_rate}],
            weight_decay=t.weight_decay,
        )
        warmup = max(1, int(self.total_steps * t.warmup_ratio))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (self.total_steps - step) / max(1, self.total_steps - warmup))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    # -- train -------------------------------------------------------------------------------
    def train(self) -> dict[str, float]:
        cfg = self.config.train
        step, best, self.best_state = 0, -1.0, None
        self.history = []
        bar = tqdm(total=self.total_steps, desc="training", unit="step", disable=not self.progress)
        start = time.time()
        for epoch in range(cfg.epochs):
            self.model.train()
            for batch in self._batches(epoch):
                loss = self._loss(batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                step += 1
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
                if step >= self.total_steps:
                    break
            metrics = self.dev(self.predictor().predict)
            self.history.append({"epoch": epoch + 1, "step": step, **{f"dev/{k}": v for k, v in metrics.items()}})
            log.info("epoch %d: dev headline %.4f", epoch + 1, metrics[Evaluator.primary])
            if metrics[Evaluator.primary] > best:
                best = metrics[Evaluator.primary]
                self.best_state = copy.deepcopy(self.model.state_dict())
                self.best_epoch = epoch + 1
            if step >= self.total_steps:
                break
        bar.close()
        self.train_seconds = time.time() - start
        self.model.load_state_dict(self.best_state)
        return {"best_dev_headline": best, "best_epoch": self.best_epoch}

    def _batches(self, epoch: int):
        """Shuffled batches of similar length: little padding, still a random order."""
        rng = random.Random(self.config.train.seed + epoch)
        order = list(range(len(self.train_set)))
        rng.shuffle(order)
        size = self.config.train.batch_size
        chunks = []
        for i in range(0, len(order), size * 32):
            pool = sorted(order[i : i + size * 32], key=lambda k: self.train_lengths[k])
            chunks += [pool[j : j + size] for j in range(0, len(pool), size)]
        rng.shuffle(chunks)
        for chunk in chunks:
            rows = [self.train_rows[k] for k in chunk]
            tensors = collate([window_from_row(row) for row in rows], self.tokenizer.pad_token_id or 0)
            names = [*self.schema.heads, "span_start", "span_end"]
            targets = {name: torch.tensor([v for row in rows for v in row[name]]) for name in names}
            if self.distillation:
                for name in self.distillation["heads"]:
                    targets[f"teacher/{name}"] = torch.tensor([p for row in rows for p in row["teacher"][name]])
            yield tensors, targets

    def _loss(self, batch) -> torch.Tensor:
        tensors, targets = batch
        out = self.model(**tensors)
        t = self.config.train
        loss = torch.zeros(())
        for name in self.schema.heads:
            teacher = targets.get(f"teacher/{name}")
            gold_share = 1.0 - t.distill_weight if teacher is not None else 1.0
            head_loss = torch.zeros(())
            if (targets[name] != IGNORE).any():  # an unlabelled-only batch has no gold
                head_loss = gold_share * nn.functional.cross_entropy(
                    out[name], targets[name], weight=self.loss_weights[name], ignore_index=IGNORE
                )
            if teacher is not None:
                head_loss = head_loss + t.distill_weight * distillation_loss(out[name], teacher, t.distill_temperature)
            loss = loss + (t.stance_loss_weight if is_stance_head(name) else 1.0) * head_loss
        for side in ("span_start", "span_end"):
            if (targets[side] != IGNORE).any():
                loss = loss + 0.5 * t.span_loss_weight * nn.functional.cross_entropy(
                    out[side], targets[side], ignore_index=IGNORE
                )
        return loss

    def predictor(self) -> Predictor:
        return Predictor(self.model, self.tokenizer, self.config, stance_bias=self.stance_bias, temperatures=self.temperatures)

    def fit_stance_bias(self) -> dict[str, float]:
        """Shift each target's 'none' logit to the offset that maximises dev F_avg.

        The loss treats the three values alike, but F_avg scores only favor and against;
        one offset per target, on a coarse grid and as near zero as ties allow, moves the
        decision to where the metric wants it without touching the weights.
        """
        self.stance_bias = {}
        records = self.dev.predictions(self.predictor().predict)
        schema, none = self.schema, self.schema.stance.index(self.schema.no_stance)
        polar = [v for v in schema.stance if v != schema.no_stance]
        fitted, report = {}, {}
        for target in schema.targets:
            gold = [g["stance"][target] for g in self.dev.gold]
            logp = np.log(np.clip([[r["scores"]["stance"][target][v] for v in schema.stance] for r in records], 1e-6, 1.0))
            best_score, best_offset = -1.0, 0.0
            for offset in sorted(np.arange(-2.0, 2.01, 0.25), key=abs):
                shifted = logp.copy()
                shifted[:, none] += offset
                score = macro_f1(gold, [schema.stance[i] for i in shifted.argmax(1)], polar)
                if score > best_score + 1e-9:
                    best_score, best_offset = score, float(offset)
            fitted[target] = best_offset
            report[target] = round(best_score, 4)
        self.stance_bias = fitted
        log.info("stance 'none' offsets fitted on dev: %s (dev F_avg %s)", fitted, report)
        return fitted

    # -- save --------------------------------------------------------------------------------
    def save(self) -> dict:
        directory = save_model(self.model, self.tokenizer, self.config, self.output_dir)
        bias_file = directory / STANCE_BIAS_FILE
        if self.stance_bias:
            bias = {"none_logit_offset": self.stance_bias, "fitted_on": self.config.data.dev_split}
            bias_file.write_text(json.dumps(bias, indent=2), encoding="utf-8")
        else:
            bias_file.unlink(missing_ok=True)
        # One prediction pass per split serves calibration and the reports: labels (argmax)
        # and so every metric are the same before and after the temperatures.
        self.temperatures = {}
        predict = self.predictor().predict
        evaluators = [e for e in (self.dev, self.test) if e is not None]
        splits = {e.name: (e.predictions(predict), e.gold) for e in evaluators}
        calibration = self._calibrate(directory, splits)
        results = {e.name: e.report_records(splits[e.name][0]) for e in evaluators}
        summary = {
            "best_epoch": self.best_epoch,
            "train_seconds": round(self.train_seconds, 1),
            "train_sentences": self.train_sentences,
            "train_articles": len(self.train_articles),
            "history": self.history,
            "distillation": self.distillation,
        }
        write_model_card(
            directory, self.config, results, summary, self.extra_labels, calibration, self.data_record, self.parent_info
        )
        return results

    def _calibrate(self, directory: Path, splits: dict[str, tuple[list[dict], list[dict]]]) -> dict | None:
        """Fit a temperature per head on dev predictions (T = 1, stance offsets applied); write calibration.json.

        Argmax decisions do not depend on T, so the metrics saved after this are the same
        numbers; only the scores become probabilities one can read as such.
        """
        from inference.model import CALIBRATION_FILE
        from training.calibration import calibrate

        path = directory / CALIBRATION_FILE
        if not self.config.train.calibrate:
            path.unlink(missing_ok=True)
            return None
        fitted = calibrate(splits, self.schema, fit_on=self.dev.name)
        calibration = {
            "temperature": fitted["temperature"],
            "fitted_on": self.config.data.dev_split,
            "ece_before": fitted["ece_before"],
            "ece_after": fitted["ece_after"],
        }
        path.write_text(json.dumps(calibration, indent=2), encoding="utf-8")
        self.temperatures = dict(calibration["temperature"])
        before, after = calibration["ece_before"][self.dev.name], calibration["ece_after"][self.dev.name]
        log.info("temperatures fitted on dev: %s; dev ECE before %s, after %s", self.temperatures, before, after)
        return calibration


def distillation_loss(logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at a shared temperature, scaled by T² so its gradients keep their size (Hinton et al.)."""
    soft = torch.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / temperature, dim=-1)
    student = torch.log_softmax(logits / temperature, dim=-1)
    return nn.functional.kl_div(student, soft, reduction="batchmean") * temperature**2


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(
    config: RunConfig,
    output_dir: str | Path,
    extra_labels: list[str] = (),
    progress: bool = True,
    parent: str | Path | None = None,
) -> dict:
    """Train, select on dev, save; ``extra_labels`` are merged over the corpus, ``parent`` is a model to start from."""
    recipe = TrainingRecipe(config, output_dir, extra_labels, progress, parent)
    recipe.setup()
    recipe.train()
    if config.train.fit_stance_offsets:
        recipe.fit_stance_bias()
    return recipe.save()
