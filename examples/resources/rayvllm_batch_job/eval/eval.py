"""The example's custom-mode job (entrypoint "python eval.py --predictions
URI"): reads the batch job's answers (JSON lines, local path or s3://) and
prints how many there are and their mean length in generated tokens."""

import argparse

import pyarrow.dataset as ds  # Ray's own dependency


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--predictions", required=True)
    args = ap.parse_args()
    df = ds.dataset(args.predictions, format="json").to_table().to_pandas()
    print(f"{len(df)} answers, {df['num_generated_tokens'].mean():.1f} generated tokens on average")


if __name__ == "__main__":
    main()
