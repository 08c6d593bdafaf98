from linreg.cli import main

raise SystemExit(main())
