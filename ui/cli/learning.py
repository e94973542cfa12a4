"""``aign collect | dataset | train``: stage 1's data and agents, stage 2's model."""

from __future__ import annotations

import argparse
import sys

from twin.compute import EXECUTOR_HELP
from twin.core import AignError, finite
from ui.cli.common import (
    ProgressLines,
    print_json,
    quiet_learning_logs,
    user_counts,
)


def cmd_train(args: argparse.Namespace) -> int:
    # a progress bar on a terminal; elsewhere (a log, CI) a line a minute (ProgressLines)
    progress = not args.quiet and sys.stderr.isatty()
    with ProgressLines(f"aign train {args.algo}", enabled=not args.quiet) as lines:
        return _train(args, progress, lines)


def _train(args: argparse.Namespace, progress: bool, lines: ProgressLines) -> int:
    if args.algo == "sac":
        from agents.sac import SACArgs, train_sac

        if not args.scenario:
            raise AignError("train sac needs --scenario")
        out = train_sac(
            SACArgs(
                scenario=args.scenario, out=args.out, formulation=args.formulation,
                users=user_counts(args.users), max_users=args.max_users, steps=args.steps,
                seed=args.seed, n_envs=args.n_envs, checkpoint_every=args.checkpoint_every,
                environment_seed=args.environment_seed, noise_jitter_db=args.noise_jitter_db,
                price_jitter=args.price_jitter, progress=progress,
            ),
            report=lines.update,
        )  # fmt: skip
        print(f"wrote {out}: use it as --controller sac:{out} or --policy sac:{out}")
    elif args.algo == "bcq":
        from agents.bcq import BCQArgs, train_bcq

        if not args.data:
            raise AignError("train bcq needs --data DATASET (per-user ones: repeat it to combine)")
        quiet_learning_logs()
        out = train_bcq(
            BCQArgs(data=args.data, out=args.out, steps=args.steps or 10_000, seed=args.seed,
                    progress=progress),
            report=lines.update,
        )  # fmt: skip
        print(f"wrote {out}: use it as --controller bcq:{out}")
    elif args.algo == "diffusion":
        from diffusion import TrainArgs, train_diffusion

        if not args.data:
            raise AignError("train diffusion needs --data DATASET (repeat it to combine)")
        report = train_diffusion(
            TrainArgs(data=args.data, out=args.out, steps=args.steps or TrainArgs.steps,
                      seed=args.seed, best_only=args.best_only,
                      improve_rounds=args.improve_rounds, step_layers=args.step_layers,
                      size_weighting=args.size_weighting,
                      off_gap=TrainArgs.off_gap if args.off_gap is None else args.off_gap,
                      progress=progress),
            progress=lambda step, total, loss: lines.update(step, total, f"loss {loss:.4g}"),
        )  # fmt: skip
        print(
            f"wrote {report.path}: final loss {report.final_loss:.4g} in {report.seconds:.0f} s; "
            f"use it with aign plan --model {report.path} or --controller diffusion:{report.path}"
        )
    else:
        raise AignError(f"unknown algorithm {args.algo!r}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from agents.collect import CollectArgs, collect
    from agents.constraint_draw import parse_impose

    spec = CollectArgs(
        scenario=args.scenario, policy=args.policy, episodes=args.episodes, out=args.out,
        users=user_counts(args.users), max_users=args.max_users, seed=args.seed,
        batch=args.batch, horizon=args.horizon, impose=parse_impose(args.impose),
        formulation=args.formulation, environment_seed=args.environment_seed,
        noise_jitter_db=args.noise_jitter_db, price_jitter=args.price_jitter,
    )  # fmt: skip
    if args.quiet or not sys.stderr.isatty():
        with ProgressLines(f"aign collect {args.policy}", enabled=not args.quiet,
                           unit="episodes") as lines:  # fmt: skip
            report = collect(spec, progress=lambda done, total: lines.update(done, total),
                             executor=args.executor)  # fmt: skip
    else:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"collecting {args.policy}", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = collect(spec, progress=update, executor=args.executor)
    # stdout holds the summary, or with --json only the report (the summary goes to stderr)
    print(collect_summary(report), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print_json(report)
    return 0


def collect_summary(report: dict) -> str:
    """What a collection did, for people."""
    stored = report["already_stored"]
    before = (f"; {stored} were stored already (the command resumes)" if stored else "")
    return (f"collected {report['collected']} episodes of {report['source']} into "
            f"{report['dataset']}{before} (executor {report['executor']}); "
            f"aign dataset info {report['dataset']} summarizes the dataset")  # fmt: skip


def _load_dataset(path: str):
    """Either format, by what its manifest says."""
    from agents.dataset import TrajectoryDataset, manifest_format
    from agents.user_dataset import USER_FORMAT, UserTrajectoryDataset

    per_user = manifest_format(path) == USER_FORMAT
    return (UserTrajectoryDataset if per_user else TrajectoryDataset).load(path)


def cmd_dataset_info(args: argparse.Namespace) -> int:
    """A summary of the dataset on stdout; the full info JSON (quantiles, coverage histograms)
    with ``--json`` (the summary then goes to stderr) or ``--out``."""
    from twin.core import write_json_atomic

    info = finite(_load_dataset(args.dataset).info())
    if args.out:
        write_json_atomic(args.out, info)
    text = dataset_summary(info) + (f"\nwrote {args.out}" if args.out else "")
    print(text, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print_json(info)
    return 0


def _counts(counts: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def dataset_summary(info: dict) -> str:
    """``aign dataset info`` for people: size, sources, quality, constraints, coverage."""
    q, cov = info["quality"], info["coverage"]
    per_user = info.get("formulation") == "per-user"
    size = (f"{info['episodes']} episodes ({info['user_episodes']} user episodes), "
            if per_user else f"{info['episodes']} episodes, ")
    lines = [
        f"dataset {info['path']} ({info['format']}, "
        f"{'per-user' if per_user else 'joint, up to ' + str(info['max_users']) + ' users'})",
        f"  size: {size}{info['transitions']} transitions, horizon {info['horizon']}",
        f"  scenarios: {_counts(info['scenarios'])}",
        f"  sources: {_counts(info['sources'])}",
        f"  user counts: {_counts(info['user_counts'])}",
        f"  mean return {q['mean_return']:.4g}, mean final utility "
        f"{q['mean_final_utility']:.4g}, feasible {q['feasible_share']:.0%}",
    ]
    for name, block in (info.get("constraints") or {}).items():
        lo, hi = block["limit_range"]
        lines.append(f"  imposed {name}: {block['episodes']} episodes, limits {lo:.4g} to "
                     f"{hi:.4g}, met in {block['satisfied_share']:.0%}")  # fmt: skip
    names = {"distinct_share": "distinct state-action pairs",
             "state_action_cells_visited_share": "state-action cells visited",
             "power_levels_visited_share": "power levels visited",
             "off_share": "user-steps off"}  # fmt: skip
    shares = [f"{names.get(k, k)} {v:.1%}" for k, v in cov.items()
              if k.endswith("_share") and isinstance(v, float)]  # fmt: skip
    if shares:
        lines.append("  coverage: " + ", ".join(shares))
    lines.append("  (the full figures: --json, or --out FILE)")
    return "\n".join(lines)


def cmd_dataset_export(args: argparse.Namespace) -> int:
    from agents.user_dataset import UserTrajectoryDataset

    if not args.minari:
        raise AignError("dataset export needs a target format: --minari")
    dataset = _load_dataset(args.dataset)
    if not isinstance(dataset, UserTrajectoryDataset):
        raise AignError(f"{args.dataset}: a joint-formulation dataset; Minari export takes "
                        f"per-user datasets (aign collect --formulation per-user)")  # fmt: skip
    from pathlib import Path

    dataset_id = args.id or f"aign/{Path(args.dataset).resolve().name}-v0"
    quiet_learning_logs()
    try:
        # an absolute root: Minari joins a relative one to itself (minari-data/.../minari-data)
        exported = dataset.export_minari(dataset_id, str(Path(args.out).resolve()))
    except ValueError as exc:  # Minari's refusals: a bad id, an existing dataset
        raise AignError(f"minari: {exc}") from None
    print(f"wrote Minari dataset {dataset_id} ({exported.total_episodes} episodes, "
          f"{exported.total_steps} steps) under {args.out}; load it with "
          f"MINARI_DATASETS_PATH={args.out} and minari.load_dataset({dataset_id!r})")  # fmt: skip
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this family's commands on ``aign``'s parser."""
    train = sub.add_parser("train",
                           help="train sac (online), bcq (offline) or the diffusion planner")
    train.add_argument("algo", choices=["sac", "bcq", "diffusion"])
    train.add_argument(
        "--scenario",
        help="sac: scenario whose instances are explored; per-user: a comma-separated mix, "
             "NAME*K repeats one, NAME@U draws U users from it (e.g. "
             "paper-20*4,paper-50*2,paper-80,scale-1000x20@200)",
    )  # fmt: skip
    train.add_argument(
        "--formulation", choices=["per-user", "joint"], default="per-user",
        help="sac: one shared per-user policy for any user count (default) or the paper's "
             "joint action padded to --max-users (the ablation); bcq follows its dataset",
    )  # fmt: skip
    train.add_argument("--users", help="sac: user counts to draw, e.g. 20,50,80")
    train.add_argument("--max-users", type=int, help="sac: pad observations to this many users")
    train.add_argument(
        "--data", metavar="DATASET", action="append",
        help="bcq, diffusion: dataset folder (repeat to combine datasets; bcq: per-user ones)",
    )  # fmt: skip
    train.add_argument(
        "--steps", type=int,
        help="sac: env steps (per-user: user transitions, 40000; joint: 20000); bcq: grad "
             "steps (10000); diffusion: grad steps (6000)",
    )  # fmt: skip
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--n-envs", type=int, default=1,
                       help="sac: parallel environments (per-user: instance groups)")  # fmt: skip
    train.add_argument("--checkpoint-every", type=int, default=5000, help="sac: steps")
    train.add_argument("--best-only", action="store_true",
                       help="diffusion: learn only the best episode of each instance (where "
                            "several policies were collected with one --seed)")  # fmt: skip
    train.add_argument("--improve-rounds", type=int, default=0, metavar="R",
                       help="diffusion: then R times, replace each example's design by the "
                            "planner's where the twin scores it better, and retrain")  # fmt: skip
    train.add_argument("--step-layers", type=int, default=1, metavar="L",
                       help="diffusion: message-passing rounds per denoising step (1)")
    train.add_argument("--off-gap", type=float, default=None, metavar="G",
                       help="diffusion: the design space's extra span between off and the "
                            "lowest level that is on, in [0, 1) (default: the trainer's)")
    train.add_argument("--size-weighting", type=float, default=0.0, metavar="A",
                       help="diffusion: draw training instances with probability ∝ users^A "
                            "(0: uniform, the default; 1: every user counts alike)")  # fmt: skip
    train.add_argument("--environment-seed", type=int, default=0,
                       help="sac: the sampler's environment (shadowing fields)")  # fmt: skip
    train.add_argument("--noise-jitter-db", type=float, default=0.0,
                       help="sac: per-episode noise-power offset, std in dB")  # fmt: skip
    train.add_argument("--price-jitter", type=float, default=1.0, metavar="F",
                       help="sac, per-user: each instance's price x log-uniform [1/F, F]")
    train.add_argument("--out", required=True, metavar="DIR")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    col = sub.add_parser("collect", help="collect labeled trajectories into a dataset")
    col.add_argument("--scenario", required=True)
    col.add_argument(
        "--policy",
        required=True,
        help="random, coordinate, sac[:DIR], bcq[:DIR] (without DIR: the shipped agents) or "
             "noisy:BASE,sigma=S[,epsilon=E]",
    )
    col.add_argument(
        "--formulation", choices=["per-user", "joint"], default="per-user",
        help="per-user episodes of any size (default) or joint episodes padded to --max-users",
    )  # fmt: skip
    col.add_argument("--episodes", type=int, required=True, help="episodes for this policy")
    col.add_argument("--users", help="user counts to draw, e.g. 20,50,80")
    col.add_argument("--max-users", type=int, help="joint: pad to this many users")
    col.add_argument("--seed", type=int, default=0, help="episode k uses seed + k")
    col.add_argument("--batch", type=int, default=16, help="episodes per vector-env batch/shard")
    col.add_argument("--executor", default="local", help=EXECUTOR_HELP)
    col.add_argument("--horizon", type=int,
                     help="steps per episode (default: joint 8, per-user 16)")  # fmt: skip
    col.add_argument("--environment-seed", type=int, default=0,
                     help="the sampler's environment (shadowing fields; held-out benchmarks "
                          "use 10000)")  # fmt: skip
    col.add_argument("--noise-jitter-db", type=float, default=0.0,
                     help="per-episode Gaussian noise-power offset, std in dB")
    col.add_argument("--price-jitter", type=float, default=1.0, metavar="F",
                     help="per-user: each episode's price x a log-uniform draw in [1/F, F]")
    col.add_argument(
        "--impose", action="append", metavar="NAME[=LO-HI]",
        help="impose a constraint on every episode with a limit drawn per episode relative to "
             "its unconstrained design p*: min-rate (a rate between the worst user's and the "
             "LO-HI percentile of p*'s rates, default 5-30) or budget (LO-HI of p*'s total "
             "power, default 0.4-1.0); repeatable",
    )  # fmt: skip
    col.add_argument("--out", required=True, metavar="DATASET")
    col.add_argument("--quiet", action="store_true")
    col.add_argument("--json", action="store_true",
                     help="print the report JSON on stdout (the summary goes to stderr)")
    col.set_defaults(func=cmd_collect)

    ds = sub.add_parser("dataset", help="inspect a trajectory dataset")
    dsub = ds.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    info = dsub.add_parser("info", help="size, quality, coverage and label distributions")
    info.add_argument("dataset", metavar="DATASET")
    info.add_argument("--out", metavar="FILE", help="write the info JSON to FILE")
    info.add_argument("--json", action="store_true",
                      help="print the info JSON on stdout (the summary goes to stderr)")
    info.set_defaults(func=cmd_dataset_info)
    export = dsub.add_parser("export", help="write a per-user dataset in another format")
    export.add_argument("dataset", metavar="DATASET")
    export.add_argument("--minari", action="store_true", help="as a Minari dataset")
    export.add_argument("--id", help="the Minari dataset id (default aign/<folder name>-v0)")
    export.add_argument("--out", required=True, metavar="DIR",
                        help="Minari's datasets root (MINARI_DATASETS_PATH)")  # fmt: skip
    export.set_defaults(func=cmd_dataset_export)
