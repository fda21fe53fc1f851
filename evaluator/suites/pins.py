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
    "mmlu/data/dev/anatomy_dev.csv": (
        "0985685cf5ab13ccc1629f03a1308a9add8767582ffeb195b68b18c3415c9993"
    ),
    "mmlu/data/val/anatomy_val.csv": (
        "09e9959486ebf3643e4ecbf173a77b029c6f08665ab8f89daf99399956f26b8e"
    ),
    "mmlu/data/test/anatomy_test.csv": (
        "966dfd5c4579885ebdb8c05d6754ae5834f672632586d8595be3c0f9360e6f4e"
    ),
    "truthful_qa/data/v1/TruthfulQA.csv": (
        "f9bd9e859cc102cb1f647f1064da7e009be752c416845cf9fa56e6eaae403a7d"
    ),
    "bbq/data/Age.jsonl": "fbb7b3d427c77d204bfd68674d71a0afc1cf19f9f902869d0e591701bd7e5b85",
    "bbq/data/Disability_status.jsonl": (
        "bdd18c166d58dbe1db0a253a24c2e16ffcd0cbfada5d8dd24a95c14579ef68c4"
    ),
    "bbq/data/Nationality.jsonl": (
        "9179836bd29a6c1ac7d4cc222a9749dc53cff0a962dbe7b3bb49b4257c40785b"
    ),
    "bbq/data/Physical_appearance.jsonl": (
        "513d7a776ae343d3938673d7824a3840ebbfc3816f75d9b1bcc38459ad836b98"
    ),
    "bbq/data/Religion.jsonl": "311caae53eb546367b36454945254647fe0d0b4d778c79ace467c7d6fad17ac9",
    "bbq/data/Sexual_orientation.jsonl": (
        "2c71036b9e7584fe589c42aef32c1a42bc01b9a5e9b1b8704342630cdb08cefd"
    ),
    "big_bench_hard/bbh/date_understanding.json": (
        "0148d4ac5fca05b2f82373e5fef7208e15363b9c6079493034d77b3dab496bf5"
    ),
    "big_bench_hard/bbh/logical_deduction_three_objects.json": (
        "e590fae72e3a6041fbd23bd8ff6b74baf44ca563f6ba40a041c55e7b867c1681"
    ),
    "big_bench_hard/bbh/boolean_expressions.json": (
        "ea6c754ec005e2d3f2d085d349a740f593b5764f32ea4638ffed4cfc0061b12a"
    ),
    "scitldr/SciTLDR-A/train.jsonl": (
        "25e5b79a062ec766c9d03834eab0b48cb27e2888123f186d57fcf261f97dbdf1"
    ),
    "scitldr/SciTLDR-A/test.jsonl": (
        "fb42dd6cd4f4a1928ae8a01a189456fbfe994a07e938bd49f68653933f6503c9"
    ),
}


def _with_2023_pins() -> None:
    # Late import: pins_2023 is data only, kept apart so this table stays readable.
    from evaluator.suites.pins_2023 import BIG_BENCH_PINS, MMLU_PINS

    for table in (MMLU_PINS, BIG_BENCH_PINS):
        clash = {k for k in table if k in DATA_PINS and DATA_PINS[k] != table[k]}
        if clash:
            raise ValueError(f"conflicting sha256 pins for {sorted(clash)}")
        DATA_PINS.update(table)


_with_2023_pins()
