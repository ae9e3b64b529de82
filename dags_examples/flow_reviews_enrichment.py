"""Example (c): enrichment — file source -> ai.transform -> http sink.

What it shows:

* ``FileSourceOperator`` reading sample reviews shipped next to this file (``data/reviews.ndjson``; a read-only
  ``base_path`` instead of a connection);
* ``AiTransformOperator`` calling an OpenAI-compatible endpoint once per review with a JSON schema (placeholders
  like ``${text}`` are JMESPath over each record): every reply is validated, invalid replies are repaired or fail
  the task naming the record, and completed records are cached so a retry does not pay for them again. The demo
  server answers deterministically, so no API key or network is needed; point ``flow_demo_llm`` at a real
  provider (host ``https://api.openai.com/v1``, password = API key) to use one;
* ``HttpSinkOperator`` posting the enriched reviews in batches with an ``Idempotency-Key`` per batch, so an Airflow
  retry does not store a batch twice.

Connections: ``flow_demo_llm``, ``flow_demo_api`` and ``flow_demo_fs`` (for the cache). Run it alone with
``airflow dags test flow_reviews_enrichment``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_flow.operators.ai import AiTransformOperator
from airflow_provider_flow.operators.file import FileSourceOperator
from airflow_provider_flow.operators.http import HttpSinkOperator

SAMPLES = str(Path(__file__).resolve().parent / "data")

REVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "topic": {"type": "string", "enum": ["quality", "delivery", "price", "looks", "other"]},
        "summary": {"type": "string", "maxLength": 120},
    },
    "required": ["sentiment", "topic", "summary"],
    "additionalProperties": False,
}

with DAG(
    dag_id="flow_reviews_enrichment",
    description="Classify product reviews with an LLM and post them to an API",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["flow", "example", "ai"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
) as dag:
    reviews = FileSourceOperator(task_id="read_reviews", path="reviews.ndjson", base_path=SAMPLES)
    enriched = AiTransformOperator(
        task_id="classify_reviews",
        data=reviews.output,
        llm_conn_id="flow_demo_llm",
        model="demo-model",
        system_prompt="You label customer reviews. Answer with JSON only.",
        prompt="Product: ${product}\nReview: ${text}\nGive the sentiment, the main topic and a short summary.",
        output_schema=REVIEW_SCHEMA,
        output_field="analysis",
        max_concurrency=4,
        cache_path="cache/reviews_enrichment.ndjson",
        fs_conn_id="flow_demo_fs",
    )
    HttpSinkOperator(
        task_id="post_reviews",
        data=enriched.output,
        http_conn_id="flow_demo_api",
        endpoint="/api/sink/reviews",
        batch_size=5,
        idempotency_key_header="Idempotency-Key",
    )
