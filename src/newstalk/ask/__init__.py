"""Questions about a story: extractive (or model-written) answers with citations, saved per listener."""
