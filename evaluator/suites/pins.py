"""sha256 pins of scenario data files, copied from the data set's MANIFEST.json.

A suite's content hash covers these, so changing one makes a new, incomparable suite.
"""

from __future__ import annotations

DATA_PINS: dict[str, str] = {
    "mmlu/data/dev/abstract_algebra_dev.csv": (
        "bd8c73f3c75bea9db82d281d9da6949cea687b987dba24a142c638e758046624"
    ),
    "mmlu/data/dev/college_chemistry_dev.csv": (
        "9ba27ba571b8ad40d35a2a88a60acf434ca5f37962c2eba8f9d0aa89edb4c1c7"
    ),
    "mmlu/data/dev/computer_security_dev.csv": (
        "09e276300dbd2d07906dbe4ff82aabf45b9765f933eb7d0f35ea3ea97dee8020"
    ),
    "mmlu/data/dev/us_foreign_policy_dev.csv": (
        "3a9677a89fd67c3a891671a2a6a14ff69ab37bdd54fb687c2f8334c8a3fa1543"
    ),
    "mmlu/data/val/abstract_algebra_val.csv": (
        "ab0c6d19c4523969ec7b553ed49adecdb9cc00decc76c26c56c42ba198d8047c"
    ),
    "mmlu/data/val/college_chemistry_val.csv": (
        "7d0594e7f35c83099ad2a23dc424cd1073dbf5883d7254b60395fd1642d860a7"
    ),
    "mmlu/data/val/computer_security_val.csv": (
        "52faa1f86a4fa029d1953443ac636c359c9487efa1259d6212ea052018bc1582"
    ),
    "mmlu/data/val/us_foreign_policy_val.csv": (
        "c427b2d9da8929924583eb4d6a32956d112cb9c43448225833c0d581a25ca1df"
    ),
    "mmlu/data/test/abstract_algebra_test.csv": (
        "4be89c0fb1d2419722e88880f6da3da95750367185ecd36f6492a6f74785cf64"
    ),
    "mmlu/data/test/college_chemistry_test.csv": (
        "4d61d7887f845b887c52ac928b6dffdcf2468d79f3d0fbb4d1731092a51d2552"
    ),
    "mmlu/data/test/computer_security_test.csv": (
        "8e40f809858db9dd8585036b53984e570b6101f72be2214b85e979c7fafa307f"
    ),
    "mmlu/data/test/us_foreign_policy_test.csv": (
        "2821ee009a2b1b7d4adc5a212a0bad7fe05d377455de0fe0841beab8f00142e1"
    ),
    "gsm8k/train.jsonl": "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
    "gsm8k/test.jsonl": "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
}
