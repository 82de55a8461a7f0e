"""Cases shared by the scoring service's tests (tests/service)."""

from __future__ import annotations

KEY = "k3y-for-tests-only"

#: Rows that must come back flagged (values no file cell reads as a customer's).
BAD_ROWS = [
    {"customer_id": "B1", "gender": "Female", "age": "abc", "annual_income": "50",
     "spending_score": "40"},
    {"customer_id": "B2", "gender": "Male", "age": "30", "annual_income": "",
     "spending_score": "40"},
    {"customer_id": "B3", "gender": "Male", "age": "250", "annual_income": "50",
     "spending_score": "140"},
    {"customer_id": "=cmd|' /C calc'!A0", "gender": "", "age": "41", "annual_income": "60",
     "spending_score": "55"},
]
