"""What a run writes for people and programs: report.json, params.json, figures, report.html."""
