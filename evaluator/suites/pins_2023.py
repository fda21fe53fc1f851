"""sha256 pins of the files the 2023 challenge suites add: every MMLU subject and the 18
BIG-bench tasks of the 2023 open conf (with their subtasks), copied from the data set's
MANIFEST.json files (`scenarios/MANIFEST.json`, `scenarios/big_bench/MANIFEST.json`).
"""

from __future__ import annotations

MMLU_PINS: dict[str, str] = {
    "mmlu/LICENSE": ("5d841b9eee8bf0d721359b79fbae956a8b426d3139bfefee32149c7d4f2a1a9c"),
    "mmlu/data/dev/astronomy_dev.csv": (
        "bb03eca519a3fbc04017dc4783635763ac928f0811ce6243dbcbf0d526dbe1e3"
    ),
    "mmlu/data/dev/business_ethics_dev.csv": (
        "7cd487e4ba7d9fe423bcc259ad852e963dc370629b8d61881b61ed0ae84c0b46"
    ),
    "mmlu/data/dev/clinical_knowledge_dev.csv": (
        "13c88c266cf2a8aa20a062e9b901ee372431e75669fa3c80865613fa2b7f61af"
    ),
    "mmlu/data/dev/college_biology_dev.csv": (
        "31f4ae0707ba3f742e0d5546ff970949be8a05e217921fe87b1814d6a0ab8184"
    ),
    "mmlu/data/dev/college_computer_science_dev.csv": (
        "fc1a43187cd68390d663e0a1849688b13a4cd75ab17616558f4e584a4a8ae2bd"
    ),
    "mmlu/data/dev/college_mathematics_dev.csv": (
        "27731ee1402e720ee01ad6fa6a969a0d0978a0e9b4c385d328a61869a43f321f"
    ),
    "mmlu/data/dev/college_medicine_dev.csv": (
        "63928a944fda769d7e52a3a4549d4f37f094896e65e7db35029261e1ae79909b"
    ),
    "mmlu/data/dev/college_physics_dev.csv": (
        "6e043d6c566091c5ad1d8bc1d002900e1aa0bff114f98d5e3f2e4f645efce100"
    ),
    "mmlu/data/dev/conceptual_physics_dev.csv": (
        "5e65be1f6fdd82f4887e3747af790a747191b1b732dd2bea76306388d5ee3719"
    ),
    "mmlu/data/dev/econometrics_dev.csv": (
        "7a01a925199c246decd0f1fc7a1b8dc28136b19d793e5b1e0d97142c118a2940"
    ),
    "mmlu/data/dev/electrical_engineering_dev.csv": (
        "5aad11b1d1c8dc1a431c3e79a047cba56d691a60403ddffaf5fbd45e9c82bc0d"
    ),
    "mmlu/data/dev/elementary_mathematics_dev.csv": (
        "9aca9cd215b7c170020fd5f7db1c9c3d5cbf6df9ee7b970a4810649a87245011"
    ),
    "mmlu/data/dev/formal_logic_dev.csv": (
        "e4b579358ed4878f6c91bfea0ccc51efdd15a28401f86da9ee8f6c0af37cf36d"
    ),
    "mmlu/data/dev/global_facts_dev.csv": (
        "685577fc3f0bf09a3f5c741ef062d6328aec843069862b83b64eb3638466505f"
    ),
    "mmlu/data/dev/high_school_biology_dev.csv": (
        "6a200085c150794846d4bab43bb0e22ceec9f99576dfc25f5c5d8faa9595ae13"
    ),
    "mmlu/data/dev/high_school_chemistry_dev.csv": (
        "1ba44aeea98ca22342b6525a3a9ebb62003b2a8289fa42d7c844e2139557ec5b"
    ),
    "mmlu/data/dev/high_school_computer_science_dev.csv": (
        "5de3800dfbbfaa89050413a765deaf774fdb0611e370951383fb50fac774663e"
    ),
    "mmlu/data/dev/high_school_european_history_dev.csv": (
        "a3677065cf51abc32901cdcf88ed64121f5595e3a5a67f86ae2570f866fe87c5"
    ),
    "mmlu/data/dev/high_school_geography_dev.csv": (
        "e43fc27b9fa8b808773a2871007b39e012a1cc1ec902f85d85cc9c27cc12883d"
    ),
    "mmlu/data/dev/high_school_government_and_politics_dev.csv": (
        "daf013a3eae04b5904e6a706cf0574df2c881e00d46a979cb34c6e2968ad1c90"
    ),
    "mmlu/data/dev/high_school_macroeconomics_dev.csv": (
        "23ed995071c47e627c4e6adbce63a9144920441abb7e69f8b4dfac5fdc4e402d"
    ),
    "mmlu/data/dev/high_school_mathematics_dev.csv": (
        "d7401d5cbad5ae697bfa480e35d85de8ebf1232589a3c59b010782ee49cbe18c"
    ),
    "mmlu/data/dev/high_school_microeconomics_dev.csv": (
        "a409b422561f1fb02e6d1bc044657cfff7779b13146edfd937d2573423c2c49b"
    ),
    "mmlu/data/dev/high_school_physics_dev.csv": (
        "5f008c3a44e7b14d86f6c1cbde28892fd0d97ae424e8af9901d75c4ee03972cc"
    ),
    "mmlu/data/dev/high_school_psychology_dev.csv": (
        "b39b304a436fa6239a4bb8c1dc4ca3693edec2876926851f3d512d1da9e280ab"
    ),
    "mmlu/data/dev/high_school_statistics_dev.csv": (
        "9441f8da50bfb93158d9b2645909cf1bc5837e8078c0eab923cf0fe761f7754e"
    ),
    "mmlu/data/dev/high_school_us_history_dev.csv": (
        "028b3c81c7be1138ad50b4afa1835773788e4557426a40abfaf132b11edab541"
    ),
    "mmlu/data/dev/high_school_world_history_dev.csv": (
        "b6e87a14718b0415241dfe10dd86605de5b6e5995fa57580e9e2d7c56fe147a1"
    ),
    "mmlu/data/dev/human_aging_dev.csv": (
        "d2439fb3c2292e7dca8244cd98dd7ca746f8424347f171345f6b396f568b0870"
    ),
    "mmlu/data/dev/human_sexuality_dev.csv": (
        "0da7f8f7aeb6d5a08f0413489aa5d5b84ff8ac971952ea66242762f779cb6794"
    ),
    "mmlu/data/dev/international_law_dev.csv": (
        "6f7f1c0191c0bcfe195d0ed39942a605012967a04d855c6482dc7e7a9f95e4d8"
    ),
    "mmlu/data/dev/jurisprudence_dev.csv": (
        "27533d974102031088bc5c47fc008538ab3d08ca75e127fb64ff04cdd1562da2"
    ),
    "mmlu/data/dev/logical_fallacies_dev.csv": (
        "4de026c2d116c381dcc1b65e91a28ba3d124398f920b0f3904ec5b641deb28f4"
    ),
    "mmlu/data/dev/machine_learning_dev.csv": (
        "e4b1b09985dbdc499d51a2a2e83d93ae05bfe72ea7407c18e3aa3d2ab9ce7517"
    ),
    "mmlu/data/dev/management_dev.csv": (
        "f75224958ab245d86c335d6886f8689247a9f83691ad63bb7ef3196641be9e52"
    ),
    "mmlu/data/dev/marketing_dev.csv": (
        "15b3cf450ebc11e122886a5bad41e78260228259fa184eaa4ba566bdf37f0315"
    ),
    "mmlu/data/dev/medical_genetics_dev.csv": (
        "70cd9ff940bef360693eeb4e05b5b8e53ad75a81d6b74a784222d4cae6dcb896"
    ),
    "mmlu/data/dev/miscellaneous_dev.csv": (
        "72f74676c37fe477720d8b55e84517bd21daf1fe24f99dd33f1b0a636d31782e"
    ),
    "mmlu/data/dev/moral_disputes_dev.csv": (
        "c80d35650189d23777fff1a4a53ff4387128c2536cbbd417d7e9103eeeb0d054"
    ),
    "mmlu/data/dev/moral_scenarios_dev.csv": (
        "dbe2196287f89a6c4be4f31a1897bf0d0f8612a5ab22451a856496df2e0c5100"
    ),
    "mmlu/data/dev/nutrition_dev.csv": (
        "84444f3a5c5bf3ccbe87f361b8dca56b9e0c5594fda2c4b558c66c37f47f5b24"
    ),
    "mmlu/data/dev/philosophy_dev.csv": (
        "587be220837bbe089702aa27cda03fbf72a7b959a9a4425e70d598026614cf11"
    ),
    "mmlu/data/dev/prehistory_dev.csv": (
        "f62e146bc64a3335bafde9af63b43e4a863246da743cd49f6daf5d5e9614ff81"
    ),
    "mmlu/data/dev/professional_accounting_dev.csv": (
        "efc070ed71676829c67497542e3571f50a868036a17f93d00a56a4f85767ae0d"
    ),
    "mmlu/data/dev/professional_law_dev.csv": (
        "15d8589900ccf4725e1bad17837d48cc18c8bf033cd9b5d6bacf28a2a8f1064f"
    ),
    "mmlu/data/dev/professional_medicine_dev.csv": (
        "486456d578890d4700dd8044ac236c8ac2ee3389e35fc81ac37529f4f4487785"
    ),
    "mmlu/data/dev/professional_psychology_dev.csv": (
        "222e690db42dfb217a7c56a6ac693b73cf0168e344d75f28618c62ad9d2c0261"
    ),
    "mmlu/data/dev/public_relations_dev.csv": (
        "8895f665f4c696ae76d34210546d0ab4b21b79d2fd8534cd2e8002e8ed0969dc"
    ),
    "mmlu/data/dev/security_studies_dev.csv": (
        "c726278f37ce15489b22190771041bd459065016e3891148ef147ae7cf1a0c35"
    ),
    "mmlu/data/dev/sociology_dev.csv": (
        "2e2bb34b4cabdc50e2c43097d1cfe91560224f9e1224adc19a01e922d1c49414"
    ),
    "mmlu/data/dev/virology_dev.csv": (
        "30af41f604f2ee7f5585361df6a7022b4eaf126eeb91494f225841908f06034a"
    ),
    "mmlu/data/dev/world_religions_dev.csv": (
        "d4f7550bb8a32a599dc2ffa0a53e85e81096f441bcca1be3a412d690ade8eaa0"
    ),
    "mmlu/data/test/astronomy_test.csv": (
        "87c9c3cb5a55395c70dd9ed521dd7d2629fd4ff236c5ab647102e007f52a9341"
    ),
    "mmlu/data/test/business_ethics_test.csv": (
        "cd3fc3a85a34cb17e6c5b2fb68ea61e7800b31120d92934019f1e17f4832fbd4"
    ),
    "mmlu/data/test/clinical_knowledge_test.csv": (
        "06a1ea973000d5ef5d2664c4ac1c68d0423f1cab6b3b682be7942633740811f1"
    ),
    "mmlu/data/test/college_biology_test.csv": (
        "e1204cb9d19887ea266145f038b5d4cc1fbc33d7efce186259c4ecca1cbe3119"
    ),
    "mmlu/data/test/college_computer_science_test.csv": (
        "d53a1d0d1c4362dacf92a4ff1d6a755beb5a87f24a7301c3c4391fcacc6530b4"
    ),
    "mmlu/data/test/college_mathematics_test.csv": (
        "8b5bef14d4209c7918eaf947e4f12a5ae9470567722d8ba9761302d733e8ac71"
    ),
    "mmlu/data/test/college_medicine_test.csv": (
        "9c533cfff89edaa317b2e79bbabcdd5e2e522e019679cb4a6475e5f2a1861b1e"
    ),
    "mmlu/data/test/college_physics_test.csv": (
        "079c3696eda22c13b0472de245c7bb4918315b59481964109a4f65d2a35b4243"
    ),
    "mmlu/data/test/conceptual_physics_test.csv": (
        "7b39a241bb20424fd2a4e0e37ce05d94865ffc44191d8be4063be0e973312256"
    ),
    "mmlu/data/test/econometrics_test.csv": (
        "10eb6b2d3a519a463872ef75902991b51ebf45865b29888e86d40228ace24029"
    ),
    "mmlu/data/test/electrical_engineering_test.csv": (
        "8b0d747a97cb2cbbd8926c8deb2cda6073da6d5d3cc099693aa7761be938f5e4"
    ),
    "mmlu/data/test/elementary_mathematics_test.csv": (
        "65a46a0e1927ea37aabd031ddcb6d81eef70a7eee1e9e0af94ec8e3fa21d728b"
    ),
    "mmlu/data/test/formal_logic_test.csv": (
        "bc2dc7373a664ae72e166dcbe3f7aaf1bb65b99f106f1831f335c53467f35248"
    ),
    "mmlu/data/test/global_facts_test.csv": (
        "a81058ee8e2385edaf42b8847ec9db01221fa4b16d262db415f3370884745ff9"
    ),
    "mmlu/data/test/high_school_biology_test.csv": (
        "cfaba2b58b9714d2a6983a90bce17f14cc44cfc8195b20f8f65fef70d21331b9"
    ),
    "mmlu/data/test/high_school_chemistry_test.csv": (
        "0e3d94da331d1eb3cafecd64a6f0f64e6fd2410b0a76676b2c0728dc5c1374f5"
    ),
    "mmlu/data/test/high_school_computer_science_test.csv": (
        "63806168fb0e5a72fe5bfb880f19816d8997e28d3f312c6b1831f4d40f432059"
    ),
    "mmlu/data/test/high_school_european_history_test.csv": (
        "09983655452c3c40ba466050ec82252f02a235e5946734f4d73b73688fc9509b"
    ),
    "mmlu/data/test/high_school_geography_test.csv": (
        "c6acdaa9d94c88cdefb9dd569e376733d9ba670c07db12cdff36ccdc18c2ab0c"
    ),
    "mmlu/data/test/high_school_government_and_politics_test.csv": (
        "fbd7a89eb2c7806097e18b40950e44e0580e6f97cd151f01a216bb575c2d7903"
    ),
    "mmlu/data/test/high_school_macroeconomics_test.csv": (
        "354b12cc74d2806c44d1fea42efba04ec12f10233e5169466080a1d1a6f8bba5"
    ),
    "mmlu/data/test/high_school_mathematics_test.csv": (
        "fe8f7a154834bba30947401ba37ea6c7afdcfba82ddc341c79b5d3016991d290"
    ),
    "mmlu/data/test/high_school_microeconomics_test.csv": (
        "a250cc4976654e479cecdb7b66046ce2412df3e5e1b9c3d145ed344eae9a2256"
    ),
    "mmlu/data/test/high_school_physics_test.csv": (
        "573e0f8d8309e4669f53a4b13248a908507b6d5d4c97c977f7bb9814658fee54"
    ),
    "mmlu/data/test/high_school_psychology_test.csv": (
        "88c33b6b0ade567d07b8b5b074effdb52f31d773541fd71e86cb0d85a8daf7bf"
    ),
    "mmlu/data/test/high_school_statistics_test.csv": (
        "d62843d2fd084d6af1c8a0a6491d0aa642c34a7a68476605b9b3db5841e63d3f"
    ),
    "mmlu/data/test/high_school_us_history_test.csv": (
        "0338dea3b11881be53c2208ae8dbb571c792c0dca6f0b36a352147c0be81625e"
    ),
    "mmlu/data/test/high_school_world_history_test.csv": (
        "7787343ae18e4e1ef833c8630c0c914c62f42c2f35d8b90f4bec2eecccfc161e"
    ),
    "mmlu/data/test/human_aging_test.csv": (
        "01299d7e0ae4a8d082daeecc140445ce7393b464040bd810b0a60a370ae5502e"
    ),
    "mmlu/data/test/human_sexuality_test.csv": (
        "43ca779587725f126d07733b33ba339ce27cca6f85056872eccf4b0377e28a90"
    ),
    "mmlu/data/test/international_law_test.csv": (
        "51b3a6d74cc84651b2355d2823c30d993015ddfe8ef39725da4e0442f29489fc"
    ),
    "mmlu/data/test/jurisprudence_test.csv": (
        "bf7a770aebfbdb181abc2c26ffd7a01ab31f93c7e2dfe6924c57c7bca4a0dff6"
    ),
    "mmlu/data/test/logical_fallacies_test.csv": (
        "3fe8b48c74832525556455d49960cc0c3cff37496783348043ff69a1863c2244"
    ),
    "mmlu/data/test/machine_learning_test.csv": (
        "05984b90f887a7da12b3dd8e41e6c34fa856b2c939ea3124975d90910ceb2af0"
    ),
    "mmlu/data/test/management_test.csv": (
        "4a535a11bb480a09a302e86d157ae2d33e054cfa00e4265fe300a9408b87ec6b"
    ),
    "mmlu/data/test/marketing_test.csv": (
        "ecf0ae0ae906194d033ca7d7746eaf201232eccb78ee24147e737473f751233d"
    ),
    "mmlu/data/test/medical_genetics_test.csv": (
        "cc30c698e94f12c00e610a39c62d1a1d9587fa53c005359317346081f722c5e6"
    ),
    "mmlu/data/test/miscellaneous_test.csv": (
        "061b283bb264072321d848b3b7f409a932a11ffa023fc94898dd31d2a4c80c7e"
    ),
    "mmlu/data/test/moral_disputes_test.csv": (
        "673f5e9054f55fc5e165a3ed01e1b13eb1ee5a3405055818b50532e05de9bfdd"
    ),
    "mmlu/data/test/moral_scenarios_test.csv": (
        "128d7bd823d793f8b7faf28f98f4b3c737b3e84d4b42c06c13458d36075a423a"
    ),
    "mmlu/data/test/nutrition_test.csv": (
        "309432be237ac2b659acd10fdd4347d32cdc60aa9daeafbac78486a8744fa0b6"
    ),
    "mmlu/data/test/philosophy_test.csv": (
        "a0f0c6fc9e4f08c04ff3a339996c4ed688a9fbe75d205fff4b9d3549fb49fa1e"
    ),
    "mmlu/data/test/prehistory_test.csv": (
        "8d44938332ea3d199cfa51a18ef69af972aa33ca4af7b5f5bc62e768a31f949a"
    ),
    "mmlu/data/test/professional_accounting_test.csv": (
        "27071efa2f8fd8502d01e80b8d7c69439586019f59e416ce039968417ef41355"
    ),
    "mmlu/data/test/professional_law_test.csv": (
        "eeb81cac576a5f537485b6befd25837b55f64b57e9b2a7e409210d7c8d608820"
    ),
    "mmlu/data/test/professional_medicine_test.csv": (
        "a034bf0dda10cb0848bdd3097eb1547d61ca2dac9e9b871563691621c38d51e9"
    ),
    "mmlu/data/test/professional_psychology_test.csv": (
        "99785591dfe18717736c0c296c9d9840c832f98749060975f7e2d976ad204bf7"
    ),
    "mmlu/data/test/public_relations_test.csv": (
        "3712f955d0c38b073b188a175a8d9a6ce64601f0ae9c98d8cfc37461c4cb5933"
    ),
    "mmlu/data/test/security_studies_test.csv": (
        "ab7634702670ee0d5e98b852f5bcfad2821ff9a2e909d223de05422c948f6638"
    ),
    "mmlu/data/test/sociology_test.csv": (
        "f6c464600032aa2bb53294ad53217fbb650601eee206af947b3ce4c587ff5bed"
    ),
    "mmlu/data/test/virology_test.csv": (
        "4355b9d79142da0e44a767a495a277733fd89ad67236cbbe3f42ff3a6d46b483"
    ),
    "mmlu/data/test/world_religions_test.csv": (
        "3be96b2465419289c4fe0c8a0d003003facd243c8982c6daafc6ac90a40bd507"
    ),
    "mmlu/data/val/astronomy_val.csv": (
        "3dbe51f827890dd079e04c8ab024c5a2a7829033cd16913744af99f7b3a46328"
    ),
    "mmlu/data/val/business_ethics_val.csv": (
        "929daf023cce06fa7558595ff8c329a3c9211693f8a46977997435da52876cc3"
    ),
    "mmlu/data/val/clinical_knowledge_val.csv": (
        "85f87578c62618aeb64778fd9831201430e36e58d01e62b32fb8d2babc8bd516"
    ),
    "mmlu/data/val/college_biology_val.csv": (
        "f624eaf75ee2add75a9f2b189bb703e0a2591981d45c60bb5f9dcd9bfe168456"
    ),
    "mmlu/data/val/college_computer_science_val.csv": (
        "4f7a08808c39218f0a8a8b945cadcc40dbf3d254962e620f7dccdea8a0596259"
    ),
    "mmlu/data/val/college_mathematics_val.csv": (
        "12621b0f192fe8773cac843c5bdc4777cc81d66b31c41188a3096e20dde143f8"
    ),
    "mmlu/data/val/college_medicine_val.csv": (
        "9a490f6aaeb2e7c15cc8ce4c5745ff449568971ac447c4aa616858f7f4dcef35"
    ),
    "mmlu/data/val/college_physics_val.csv": (
        "55c80f8fdd225c5ff57ab952d583fa5f20ac719e2432e9062fd5fb00e4abe42e"
    ),
    "mmlu/data/val/conceptual_physics_val.csv": (
        "dba647511d25b8defe1325268913d5b5853f3692af104176b88948bf89f06b95"
    ),
    "mmlu/data/val/econometrics_val.csv": (
        "062b8b3ae560c7bf1bde9fb64958949ce74093eec3761dc3227e6e777168aaf1"
    ),
    "mmlu/data/val/electrical_engineering_val.csv": (
        "31462254765b0525942d28da430d168dc012c64fd63140ee7c4d1cb42ebea6f5"
    ),
    "mmlu/data/val/elementary_mathematics_val.csv": (
        "bc9806fe460cac380621592710b4eb64051151f7adfc7d87bfc4616a4473cff9"
    ),
    "mmlu/data/val/formal_logic_val.csv": (
        "306d64079d5a16516470cc059e8e313abc06ceeec8c1131af582e30fb6f21667"
    ),
    "mmlu/data/val/global_facts_val.csv": (
        "c32a9e14e2994414db70cbc85d89671f31be7ab3cc16fa905f8346e0c9e4061c"
    ),
    "mmlu/data/val/high_school_biology_val.csv": (
        "c0b264a94514f7326499c11e2b69f3991655391208d7c58c40b55e97404d4549"
    ),
    "mmlu/data/val/high_school_chemistry_val.csv": (
        "ed0c2c9846a709332f679a14dc0f99b68d61b6161e7f86aaf9012a11f9617e3b"
    ),
    "mmlu/data/val/high_school_computer_science_val.csv": (
        "5e40b8773655e59293ecf6a3e60346f3dc23273a808e64a9cd415b8dd2d55381"
    ),
    "mmlu/data/val/high_school_european_history_val.csv": (
        "82f2bbbf8148f3c7bfe8936278f8b3713686b5aa0bba43cadf4f59b7f8d192f2"
    ),
    "mmlu/data/val/high_school_geography_val.csv": (
        "94444fda55747826967db7d9eb4a977edc34a64c0cdf2a8e865c382a8610d96b"
    ),
    "mmlu/data/val/high_school_government_and_politics_val.csv": (
        "0fd2fd6ec975ed75c36eb6b826e4906ccdfa0275b915fa5b97499e6906a87777"
    ),
    "mmlu/data/val/high_school_macroeconomics_val.csv": (
        "3533d53f9f803657e25acd63fd98f2e24626008ff2fb793e2077feccd3d97f3c"
    ),
    "mmlu/data/val/high_school_mathematics_val.csv": (
        "233f0811fb852a080f52c9e9cb3ce7cfb76f54661dd6f8fddfdac6b8e2a989b2"
    ),
    "mmlu/data/val/high_school_microeconomics_val.csv": (
        "51a6993ff0e2de9dcfc1c292efa4f4d983fd2397d5a28453c075272b7ba698f8"
    ),
    "mmlu/data/val/high_school_physics_val.csv": (
        "3861ace8d359bac8b8560481599212193d38120fc350082680d99ad2090eeb0e"
    ),
    "mmlu/data/val/high_school_psychology_val.csv": (
        "785e5c3e90eafb1cbeca4fd6c8d4d061d0358f5c4cdc5a916c77aa038cec0f9a"
    ),
    "mmlu/data/val/high_school_statistics_val.csv": (
        "ee65f842e44b0f9ada3919f64459c9b6a7aec190a26be00e037289279574d63c"
    ),
    "mmlu/data/val/high_school_us_history_val.csv": (
        "b28f9c1a3382cb1ccba85b70ed1a3f555a37b01788cc0b96f8be08a72b29d8b7"
    ),
    "mmlu/data/val/high_school_world_history_val.csv": (
        "7ba62c498d5bbe64423f6dca9db97b8240b87aee8a8559cafe5bca0e8b82fd4b"
    ),
    "mmlu/data/val/human_aging_val.csv": (
        "5f4e2e4eebf704c4f19a6b54e58570b5f7d3928bedc807a24ff95dc296431de0"
    ),
    "mmlu/data/val/human_sexuality_val.csv": (
        "3f8b1c5317703fd7974ba1a07393b2ce66e171bc9ae8d1230455d7f42f152346"
    ),
    "mmlu/data/val/international_law_val.csv": (
        "627a60c75899197670999963d6a2814b2bc7b4f7afc176a6bd665a0a2289a18a"
    ),
    "mmlu/data/val/jurisprudence_val.csv": (
        "a54d080420bbdb866fb18ff9eb6e8eb524df0dc1d25724997f73ac860fd3c8ec"
    ),
    "mmlu/data/val/logical_fallacies_val.csv": (
        "35820dc5ddf469d073691f4634edb87955902dd4d90b45f62f848ccd88dc4817"
    ),
    "mmlu/data/val/machine_learning_val.csv": (
        "23ea00a670424f7f7f54c3d32a04f470983234ffa7c6356eab8f4f7c6150fce4"
    ),
    "mmlu/data/val/management_val.csv": (
        "73f1407eedac9d6b02494b8e5292daa905993ed086883b56f4f0e52aea0e61bc"
    ),
    "mmlu/data/val/marketing_val.csv": (
        "521b52fd9be14088e8b3194088edd4de306e960d4a15558a0b0ea5f074ab158c"
    ),
    "mmlu/data/val/medical_genetics_val.csv": (
        "03d44b759f35da638d7432bb7f050cc0bc5886497285980e91d387fe23478d6a"
    ),
    "mmlu/data/val/miscellaneous_val.csv": (
        "ae3d2dd1438655b9de855bae3832d3ef05a48a71ccbbb935850761284574c521"
    ),
    "mmlu/data/val/moral_disputes_val.csv": (
        "941826c9761dade3ebfb3a6a9c18e36994c3fcff2b10ffbe8830cf41b9e6cad0"
    ),
    "mmlu/data/val/moral_scenarios_val.csv": (
        "73735e0bf74f045cf611f5b356082f083a401f283b9187bb2510e60d8efbcf61"
    ),
    "mmlu/data/val/nutrition_val.csv": (
        "b9c542cf888e13a534cf23bcb603c9194829dd17c9fcfb116fbea068241302db"
    ),
    "mmlu/data/val/philosophy_val.csv": (
        "e190e2653bf42254783e4ed04d8016e5aedcb050a4496d3de0d737f84c79755a"
    ),
    "mmlu/data/val/prehistory_val.csv": (
        "08d0748aa24b77a3ca1e95897d6c77585c728b098a5a91501015552f1f331086"
    ),
    "mmlu/data/val/professional_accounting_val.csv": (
        "865b30e9a3c8dedbcedf9f50ac290571a729e1c7968485b203d328e55bbf6dca"
    ),
    "mmlu/data/val/professional_law_val.csv": (
        "175350a6b9a39a1f3118b3d700068f06ea1b59fa361d40f719fc3769c3e01601"
    ),
    "mmlu/data/val/professional_medicine_val.csv": (
        "8ccce8d3ca49f2a8ff645a12151ec36f4d567b53bf146bcefcb44c993efd7392"
    ),
    "mmlu/data/val/professional_psychology_val.csv": (
        "ef9cac4327293305ab3becdd4e8bc7ddeb56c3e43766ef4c9b8f506a3a69107c"
    ),
    "mmlu/data/val/public_relations_val.csv": (
        "7acad9ec286d30324ecec4888789abf73903d8e3222cef8650e7f294310a7957"
    ),
    "mmlu/data/val/security_studies_val.csv": (
        "5287f8757b00302ebcfddfe6c510e06a21c3b697e17cdefe40dfe180a619c6ca"
    ),
    "mmlu/data/val/sociology_val.csv": (
        "593bf2643ee40f288dc1104fe2994ec343e7db0f11970a9d449220daf4b38846"
    ),
    "mmlu/data/val/virology_val.csv": (
        "bfd8a9560123c397d4697333b59e1230b4154c466c9361530381434e2c6fd401"
    ),
    "mmlu/data/val/world_religions_val.csv": (
        "4352332375435709451e5782ede6700752db0b289602e572927d30ee0289125f"
    ),
}

BIG_BENCH_PINS: dict[str, str] = {
    "big_bench/auto_debugging/task.json": (
        "b34e651c5fa7519e6293ddd681dab06e018300d8b6228a57f713b08f62da8f17"
    ),
    "big_bench/code_line_description/task.json": (
        "5aacbdc30e9adf82ac735b36102c7b232af73cdb6c0d6d05af22194a876ffe7b"
    ),
    "big_bench/conceptual_combinations/contradictions/task.json": (
        "7435d9f9ab27d76e296fb180689af935dc3f2fe410aaaf30cc9e32a94057ce4a"
    ),
    "big_bench/conceptual_combinations/emergent_properties/task.json": (
        "0ed8fac70dc10299407e1ea2a63f0d911c1b656d127312469944b5cd2d303b0e"
    ),
    "big_bench/conceptual_combinations/fanciful_fictional_combinations/task.json": (
        "3e5f3e752ef6242dc7cad62ddfc5af0159f4d251a088e6af13f80ff4407a4f72"
    ),
    "big_bench/conceptual_combinations/homonyms/task.json": (
        "6fe28191b711d6e9f42673aeae7f09c2dce4b4794534df3b9f7bfe9f8fa26961"
    ),
    "big_bench/conceptual_combinations/invented_words/task.json": (
        "1cd1b6bd1a233f3872591276e26cead6fdbc10437e77b7db70af36a155478f4c"
    ),
    "big_bench/conceptual_combinations/surprising_uncommon_combinations/task.json": (
        "4c2d1f40288938215d7d1e3d4be5c87fbce2f61a63416d939e0075d6e9607550"
    ),
    "big_bench/conceptual_combinations/task.json": (
        "d170861f0d1e6929c816543ea01f0935bf3287167f8da9e146d42eba71b76bd2"
    ),
    "big_bench/emoji_movie/task.json": (
        "cbcc9f1ff55bfa88815af3a68ac4db8d13cecb5a22cf70d05054f93facf71f50"
    ),
    "big_bench/formal_fallacies_syllogisms_negation/task.json": (
        "8b1a903c4d860d07cd134df8c44d579b255653d54a83f8f3794e27313e35fa40"
    ),
    "big_bench/known_unknowns/task.json": (
        "6061bdd796f2225fee6ef9c389e1b1e19f4d83da905dc7b512e0d1ca0e44c557"
    ),
    "big_bench/linguistics_puzzles/task.json": (
        "287351ea0bdd5305072d6dfee2ab9ff3fd65fdd3ae23ac570677cfa3f3163353"
    ),
    "big_bench/logic_grid_puzzle/task.json": (
        "afeb101f71f637851a82418501ad48bb9d2b5762f348453f9adf035aef8f4dd5"
    ),
    "big_bench/logical_deduction/five_objects/task.json": (
        "552dec4d5067bdbe033e78e80fdf1f5a8061d17b385379b8ec5104fa17d07918"
    ),
    "big_bench/logical_deduction/seven_objects/task.json": (
        "5e24146d600b1b2e2d8958e23851e7c958b1a7644a2540fa0de7fa3e51a68cf7"
    ),
    "big_bench/logical_deduction/task.json": (
        "850891a86223962cedb44591662e719844dcb80f50bcd953dea2df3b7125ba79"
    ),
    "big_bench/logical_deduction/three_objects/task.json": (
        "5e3f4a7569cb70bb1469374d3d34fb7883445a9d5743e1a81fd8dcdaf6fcb40f"
    ),
    "big_bench/novel_concepts/task.json": (
        "a0fab7b233bbb62fd6e1e66d2f9adf6588c8086c11861ca7d43c0b649ed5dee0"
    ),
    "big_bench/operators/task.json": (
        "0c762c047835f8dad2df42e34ad3c147f385b10a21396571a70e2fcc3bf1a84b"
    ),
    "big_bench/play_dialog_same_or_different/task.json": (
        "0dcf9fc3333b224f24c8b8c8855a4c417dceb83f4d141a0937502e965e40dac9"
    ),
    "big_bench/repeat_copy_logic/task.json": (
        "ae50573875bd376073a9e472734f8cba610fbde7155dcab14bf5bf2f41897a9a"
    ),
    "big_bench/strange_stories/boolean/task.json": (
        "b221b39e884da12d5c1fee6bce20b118445ff20d9571cc883769e0f93a1419ac"
    ),
    "big_bench/strange_stories/multiple_choice/task.json": (
        "b1e3294b5f9025c0d853b2b834c969dd0f376933990e1290e377b24c75379a88"
    ),
    "big_bench/strange_stories/task.json": (
        "63b45f19ad75363a8694995349c77201ae0a8825a61e42a6c87d682a57dc8bc3"
    ),
    "big_bench/strategyqa/task.json": (
        "60af9081fed20102fd8bb1e02dc7d9f12238efcba33e4c1a56b4d61cb6409803"
    ),
    "big_bench/symbol_interpretation/adversarial/task.json": (
        "8cdab21d4acda49b15fd8bc512747f57cdfdbfd9c34a43099c2a9ad34fa48f63"
    ),
    "big_bench/symbol_interpretation/emoji_agnostic/task.json": (
        "0e10e46991f5d6e4cbfd0b26b5bcba96fb6fdf07662335a3f00bed625dab89e0"
    ),
    "big_bench/symbol_interpretation/name_agnostic/task.json": (
        "da0576582e0580dc4008c38a7aed1bba0fe2b77ab99f3120e21373545d7208d7"
    ),
    "big_bench/symbol_interpretation/plain/task.json": (
        "aa81f9444d79c0096b23082637f39e9d700e86e49f807f20194df9265380b1c5"
    ),
    "big_bench/symbol_interpretation/task.json": (
        "03d7d1f4dec80ba16d12bebaef5204c1715c8728919cbc90fe1c5d56488d0437"
    ),
    "big_bench/symbol_interpretation/tricky/task.json": (
        "22107908e39bb3602fcee2cb22161a240a51a15c2ce6962ba6c4aba15623a06c"
    ),
    "big_bench/vitaminc_fact_verification/task.json": (
        "10f83da50374701fc7ce69162a7a167b14e1a86351201aa8bf14b56fa0a3214f"
    ),
    "big_bench/winowhy/task.json": (
        "c36fa38ab146fd7cc60e9f4b7a34c979c5ffbcb4a6870302bf8d785fbe64d1f6"
    ),
}
