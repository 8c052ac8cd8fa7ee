from mm_conformance.cli import main

raise SystemExit(main())
