from sourcestance.cli import main

raise SystemExit(main())
