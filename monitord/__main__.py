from monitord.cli import main

raise SystemExit(main())
