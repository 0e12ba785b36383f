"""Children and Families Codes (Appendix 5 of the evaluation report)."""
