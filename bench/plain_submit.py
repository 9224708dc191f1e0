"""The pipeline baseline: what a plain script does with no queue, ledger or retries.

pandas read_csv (every column text), a simple normalise (drop separators, +/00/0 prefixes,
6..18 digits), first occurrence wins, 200,000 per chunk, one signed requests.post per chunk.
Run by bench/run.py as its own process:
    python bench/plain_submit.py FILE BASE_URL NAME   (LAAFFIC_API_KEY/SECRET from the env)
Prints {"chunks", "numbers", "key_ids"}; exits non-zero when a chunk is not accepted."""

from __future__ import annotations

import os
import sys

import orjson
import pandas as pd
import requests

from worker.signing import signed_headers

CHUNK = 200_000
COUNTRY_CODE = "46"
SEND_PATH = "/v3/voice/group/call/send/agent"


def normalise(raw: pd.Series) -> pd.Series:
    digits = raw.str.strip().str.replace(r"[\s\-()/]", "", regex=True)
    digits = digits.str.replace(r"^\+|^00", "", regex=True)
    digits = digits.where(~digits.str.startswith("0"), COUNTRY_CODE + digits.str[1:])
    valid = digits.str.fullmatch(r"[1-9][0-9]{5,17}")
    return digits[valid.fillna(False)]


def main() -> int:
    path, base_url, name = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
    key, secret = os.environ["LAAFFIC_API_KEY"], os.environ["LAAFFIC_API_SECRET"]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    numbers = normalise(frame["phone"])
    entries = pd.DataFrame({"calleeNumber": numbers, "text1": frame["first_name"][numbers.index],
                            "text2": frame["city"][numbers.index]})
    entries = entries.drop_duplicates("calleeNumber")
    session = requests.Session()
    key_ids = []
    for n, start in enumerate(range(0, len(entries), CHUNK), start=1):
        chunk = entries.iloc[start:start + CHUNK]
        body = orjson.dumps({"appId": "bench", "agentId": 41, "taskName": f"{name}-{n:03d}",
                             "numberInfoList": chunk.to_dict("records")})
        answer = session.post(base_url + SEND_PATH, data=body, timeout=120,
                              headers=signed_headers(key, secret)).json()
        if str(answer.get("status")) != "0":
            print(f"chunk {n} refused: {answer}", file=sys.stderr)
            return 1
        key_ids.append(answer["data"])
    sys.stdout.write(orjson.dumps({"chunks": len(key_ids), "numbers": len(entries),
                                   "key_ids": key_ids}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
