"""The same job as custseg's POST /v1/score, the way a Python team would serve it: FastAPI +
pydantic + numpy + a scikit-learn KMeans holding the model's centroids. Used by
benches/http_load.sh to compare throughput on the same machine. Run as
`CUSTSEG_MODEL=models/default/v1/model.json uvicorn fastapi_app:app`.
"""
import json
import os
from typing import Any, Dict, List, Optional

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.cluster import KMeans

MODEL = json.load(open(os.environ["CUSTSEG_MODEL"]))
FEATURES = MODEL["features"]["features"]
CENTROIDS = np.asarray(MODEL["centroids"])
KM = KMeans(n_clusters=len(CENTROIDS), init=CENTROIDS, n_init=1, max_iter=1).fit(CENTROIDS)
SEGMENTS = MODEL["segments"]

app = FastAPI()


class ScoreRequest(BaseModel):
    customers: List[Dict[str, Any]]
    as_of: Optional[str] = None


def encode(c):
    row = []
    for f in FEATURES:
        e, w = f["encoding"], np.sqrt(f["weight"])
        v = c.get(f["name"])
        if e["kind"] == "numeric":
            x = float(e["impute"] if v is None else v)
            if e["transform"] == "log1p":
                x = np.log1p(x)
            row.append((x - e["mean"]) / e["std"] * w)
        else:
            label = e["impute"] if v is None else str(v)
            row.extend((float(label == lv) - s) * e["scale"] * w for lv, s in zip(e["levels"], e["shares"]))
    return row


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/v1/score")
def score(req: ScoreRequest):
    X = np.asarray([encode(c) for c in req.customers])
    labels = KM.predict(X)
    dist = KM.transform(X)
    results = []
    for c, l, d in zip(req.customers, labels, dist):
        s = SEGMENTS[int(l)]
        srt = np.sort(d)
        results.append({"customer_id": c.get("customer_id"), "segment_id": int(l), "segment": s["name"],
                        "tier": s["tier"], "distance": float(d[l]), "distances": d.tolist(),
                        "margin": float(srt[1] - srt[0]) if len(srt) > 1 else 0.0, "warnings": []})
    return {"model": MODEL["name"], "version": MODEL["version"], "results": results}
