"""The Flex Template launcher's Python file (FLEX_TEMPLATE_PYTHON_PY_FILE): builds and
submits the job its parameters describe. The code lives in the installed package."""

import sys

from weir.pipelines.main import main

if __name__ == "__main__":
    sys.exit(main())
