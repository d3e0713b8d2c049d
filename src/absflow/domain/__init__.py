"""Domain vocabulary: money, rates, issues, plans. Stdlib only, no I/O."""
