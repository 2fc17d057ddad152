"""Local graders, the LLM judge over HTTP (stub server on 127.0.0.1) and its failure modes."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from seal_gym.squad.grading import (
    ContainsGrader,
    F1Grader,
    GradeItem,
    JudgeGrader,
    LocalJudge,
    OpenAIJudge,
    make_grader,
    normalize_answer,
    token_f1,
)


def test_normalisation_and_contains():
    assert normalize_answer("The Quick, brown fox!") == "quick brown fox"
    grader = ContainsGrader()
    verdicts = grader.grade([
        GradeItem("q", "Teodor Vask", "It was teodor vask.\nThe answer is: nobody"),
        GradeItem("q", "1847", "The answer is:\n1847"),  # only the first line counts
        GradeItem("q", "", "anything"),  # an empty gold answer never matches
    ])
    assert [v.correct for v in verdicts] == [True, False, False]


def test_f1_is_lenient_where_contains_is_strict():
    near_miss = GradeItem("q", "Teodor Vask", "The inventor was Teodore Vask, born in 1861.")
    assert not ContainsGrader().grade([near_miss])[0].correct
    assert F1Grader(threshold=0.5).grade([near_miss])[0].correct
    # Never stricter than the strict grader on sentence answers, and still wrong when wrong.
    sentence = GradeItem("q", "Odila Brenn", "The founder of Port Varrow is the sailmaker Odila Brenn.")
    assert ContainsGrader().grade([sentence])[0].correct and F1Grader().grade([sentence])[0].correct
    assert not F1Grader().grade([GradeItem("q", "Odila Brenn", "The founder is unknown.")])[0].correct
    assert token_f1("a b c", "d e") == 0.0


class _JudgeHandler(BaseHTTPRequestHandler):
    replies: list[str] = []
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"body": body, "auth": self.headers.get("Authorization"), "path": self.path})
        reply = type(self).replies.pop(0)
        if reply == "SLOW":
            time.sleep(1.0)
            reply = "yes"
        if reply == "HTTP500":
            self.send_response(500)
            self.end_headers()
            return
        payload = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_server():
    server = HTTPServer(("127.0.0.1", 0), _JudgeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _JudgeHandler.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_judge_over_http(judge_server):
    _JudgeHandler.replies[:] = ["Yes.", "no", "maybe"]
    grader = make_grader("judge-openai", base_url=judge_server, api_key="k", model="judge")
    items = [GradeItem("Who?", "Odila Brenn", "Odila Brenn"), GradeItem("When?", "1783", "1900"),
             GradeItem("What?", "red", "red-ish")]
    verdicts = grader.grade(items)
    assert [v.correct for v in verdicts] == [True, False, False]
    assert verdicts[2].error and "neither yes nor no" in verdicts[2].error
    first = _JudgeHandler.seen[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer k"
    assert first["body"]["model"] == "judge" and "Odila Brenn" in first["body"]["messages"][0]["content"]


@pytest.mark.parametrize("reply", ["SLOW", "HTTP500"])
def test_judge_failure_counts_as_incorrect_and_is_recorded(judge_server, reply):
    _JudgeHandler.replies[:] = [reply]
    grader = JudgeGrader(OpenAIJudge(base_url=judge_server, api_key="", timeout=0.2))
    verdict = grader.grade([GradeItem("q", "a", "a")])[0]
    assert not verdict.correct and verdict.error.startswith("judge failed")


def test_judge_with_nothing_listening():
    grader = JudgeGrader(OpenAIJudge(base_url="http://127.0.0.1:9/v1", timeout=0.5))
    verdict = grader.grade([GradeItem("q", "a", "a")])[0]
    assert not verdict.correct and "judge failed" in verdict.error


def test_local_judge_runs_on_a_local_model(tiny_bundle):
    replies = LocalJudge(tiny_bundle).complete(["Is 1 + 1 = 2? Reply yes or no.", "Another question."])
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    (verdict,) = JudgeGrader(LocalJudge(tiny_bundle)).grade([GradeItem("q", "a", "a")])
    # The random model says neither yes nor no: graded incorrect with that reason (not a judge failure).
    assert not verdict.correct and "neither yes nor no" in verdict.error


def test_make_grader_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown grader"):
        make_grader("gpt")
    with pytest.raises(TypeError):
        make_grader(object())
